// One check for every duration option: a number of milliseconds a timer can hold.

/**
 * The longest delay `setTimeout` can hold, in milliseconds (about 24.8 days):
 * a longer one fires at once.
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** What {@linkcode checkDuration} needs besides the value. */
export interface DurationCheck {
  /** What is being created, for messages: `client`, `AuthorizationCodeGrant`, ... */
  context: string;
  /** The option's name, for messages. */
  option: string;
  /** The value when the option is not given. */
  fallback: number;
  /** The smallest value allowed. */
  min: number;
  /**
   * The largest value allowed. Default: {@linkcode MAX_TIMER_DELAY}, for a
   * duration a timer waits for; a duration that is only compared with others
   * (a margin) may allow more, up to `Infinity` (any finite number).
   */
  max?: number;
}

/**
 * Checks a duration option, in milliseconds: a finite number from `min` to
 * `max`. An accepted duration means what it says: one a timer cannot hold is
 * refused rather than firing at once.
 *
 * @param value The option's value.
 * @param check The option's name, its bounds and its default.
 * @returns The value, or the default when it is `undefined`.
 * @throws {RangeError} when the value is not such a number.
 */
export function checkDuration(value: unknown, check: DurationCheck): number {
  const { context, option, fallback, min, max = MAX_TIMER_DELAY } = check;
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    const limit = max === MAX_TIMER_DELAY
      ? ` and <= ${MAX_TIMER_DELAY} (about 24.8 days, the longest a timer can wait)`
      : Number.isFinite(max)
      ? ` and <= ${max}`
      : "";
    throw new RangeError(
      `Cannot create the ${context}: "${option}" must be a finite number of milliseconds >= ${min}${limit}`,
    );
  }
  return value;
}
