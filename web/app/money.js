// @ts-check
/**
 * Money from the billing API's decimal strings ("16.00", "0.000246"), without floating point.
 *
 * Every amount is parsed into an exact scaled integer (`BigInt` units and a decimal scale), so
 * sums, differences, comparisons and percentages are exact. Amounts shown to people are
 * truncated to whole cents (never rounded up): a usage of $9.999 shows as $9.99 and no overage,
 * which matches what Stripe will charge (units are whole cents, rounded down).
 *
 * @module money
 */

/** A decimal as an exact scaled integer: `value = units / 10^scale`. */
export class Decimal {
  /**
   * @param {bigint} units the value times 10^scale
   * @param {number} scale digits after the decimal point (0 or more)
   */
  constructor(units, scale) {
    /** @readonly */
    this.units = units;
    /** @readonly */
    this.scale = scale;
  }

  /**
   * Parses plain decimal text: an optional minus, digits, an optional fraction ("12", "0.50", "-3.1").
   * No exponent, no grouping, no currency sign.
   * @param {string} text
   * @returns {Decimal}
   * @throws {MoneyFormatError} when `text` is not such a decimal
   */
  static parse(text) {
    if (typeof text !== 'string') {
      throw new MoneyFormatError(`not a decimal string: ${String(text)}`);
    }
    const match = /^(-)?(\d+)(?:\.(\d+))?$/.exec(text.trim());
    if (!match) {
      throw new MoneyFormatError(`not a decimal string: "${text}"`);
    }
    const [, minus, whole, fraction = ''] = match;
    const magnitude = BigInt(whole + fraction);
    return new Decimal(minus ? -magnitude : magnitude, fraction.length);
  }

  /**
   * This value with at least `scale` fraction digits (never loses digits).
   * @param {number} scale
   * @returns {Decimal}
   */
  withScale(scale) {
    if (scale <= this.scale) {
      return this;
    }
    return new Decimal(this.units * 10n ** BigInt(scale - this.scale), scale);
  }

  /**
   * @param {Decimal} other
   * @returns {Decimal}
   */
  add(other) {
    const scale = Math.max(this.scale, other.scale);
    return new Decimal(this.withScale(scale).units + other.withScale(scale).units, scale);
  }

  /**
   * @param {Decimal} other
   * @returns {Decimal}
   */
  sub(other) {
    return this.add(new Decimal(-other.units, other.scale));
  }

  /**
   * -1, 0 or 1 as this value is below, equal to or above `other`.
   * @param {Decimal} other
   * @returns {-1 | 0 | 1}
   */
  compare(other) {
    const scale = Math.max(this.scale, other.scale);
    const a = this.withScale(scale).units;
    const b = other.withScale(scale).units;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  /**
   * @param {Decimal} other
   * @returns {Decimal}
   */
  mul(other) {
    return new Decimal(this.units * other.units, this.scale + other.scale);
  }

  /** @returns {boolean} */
  isZero() {
    return this.units === 0n;
  }

  /**
   * Truncated toward zero to `digits` fraction digits.
   * @param {number} digits
   * @returns {Decimal}
   */
  truncate(digits) {
    if (this.scale <= digits) {
      return this.withScale(digits);
    }
    const factor = 10n ** BigInt(this.scale - digits);
    // BigInt division truncates toward zero.
    return new Decimal(this.units / factor, digits);
  }

  /**
   * Plain text with exactly `scale` fraction digits ("-0.50").
   * @returns {string}
   */
  toString() {
    const negative = this.units < 0n;
    const digits = (negative ? -this.units : this.units).toString().padStart(this.scale + 1, '0');
    const whole = digits.slice(0, digits.length - this.scale);
    const fraction = digits.slice(digits.length - this.scale);
    return `${negative ? '-' : ''}${whole}${this.scale > 0 ? `.${fraction}` : ''}`;
  }
}

/** A string that is not a plain decimal where an amount was expected. */
export class MoneyFormatError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'MoneyFormatError';
  }
}

/**
 * @param {string | Decimal} value
 * @returns {Decimal}
 */
function dec(value) {
  return value instanceof Decimal ? value : Decimal.parse(value);
}

/**
 * Formats an amount in US dollars, truncated to whole cents, with thousands separators:
 * "1234.5" -> "$1,234.50", "0.000246" -> "$0.00", "-3" -> "-$3.00".
 * @param {string | Decimal} amount
 * @returns {string}
 */
export function formatUsd(amount) {
  const cents = dec(amount).truncate(2);
  const negative = cents.units < 0n;
  const [whole, fraction] = (negative ? new Decimal(-cents.units, 2) : cents).toString().split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}$${grouped}.${fraction}`;
}

/**
 * The sum as plain decimal text.
 * @param {...(string | Decimal)} amounts
 * @returns {string}
 */
export function addAmounts(...amounts) {
  return amounts.map(dec).reduce((sum, next) => sum.add(next), new Decimal(0n, 0)).toString();
}

/**
 * `a - b`, but never below zero, as plain decimal text.
 * @param {string | Decimal} a
 * @param {string | Decimal} b
 * @returns {string}
 */
export function saturatingSub(a, b) {
  const difference = dec(a).sub(dec(b));
  return (difference.units < 0n ? new Decimal(0n, difference.scale) : difference).toString();
}

/**
 * The exact product as plain decimal text ("1.00" x "2" = "2.00").
 * @param {string | Decimal} a
 * @param {string | Decimal} b
 * @returns {string}
 */
export function multiplyAmounts(a, b) {
  return dec(a).mul(dec(b)).toString();
}

/**
 * -1, 0 or 1 as `a` is below, equal to or above `b`.
 * @param {string | Decimal} a
 * @param {string | Decimal} b
 * @returns {-1 | 0 | 1}
 */
export function compareAmounts(a, b) {
  return dec(a).compare(dec(b));
}

/**
 * Whole percent of `part` in `whole`, rounded down (may exceed 100), computed on integers.
 * A zero `whole` gives 0 for a zero part and 100 otherwise (as the API does).
 * @param {string | Decimal} part
 * @param {string | Decimal} whole
 * @returns {number}
 */
export function percentOf(part, whole) {
  const p = dec(part);
  const w = dec(whole);
  const scale = Math.max(p.scale, w.scale);
  const numerator = p.withScale(scale).units;
  const denominator = w.withScale(scale).units;
  if (denominator <= 0n) {
    return numerator > 0n ? 100 : 0;
  }
  if (numerator <= 0n) {
    return 0;
  }
  return Number((numerator * 100n) / denominator);
}

/**
 * The next invoice as it stands when the allowance is applied by the app: the base price plus the
 * overage so far truncated to whole cents (what the metered price at $0.01 per unit charges).
 * @param {string | Decimal} basePrice e.g. "29.00"
 * @param {string | Decimal} overage e.g. "2.205"
 * @returns {string} e.g. "31.20"
 */
export function estimateNextInvoice(basePrice, overage) {
  return dec(basePrice).add(dec(overage).truncate(2)).truncate(2).toString();
}
