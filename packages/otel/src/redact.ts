/**
 * Turns tool arguments and results into span attribute text with secrets masked and a bounded size. Content is off
 * by default; a tool opts in (policy `monitoring.record_content`), and even then this runs on everything recorded.
 */
export type Redactor = (value: unknown) => string;

export interface RedactOptions {
  /** Longest attribute value, in characters; longer text is cut with a marker. Default 4096. */
  readonly maxLength?: number;
  /** Extra object keys whose values are always masked (matched case-insensitively, as substrings). */
  readonly secretKeys?: readonly string[];
  /** Extra patterns to mask in the text. */
  readonly patterns?: readonly RegExp[];
}

const MASK = '[REDACTED]';

/** Keys whose values are secrets whatever they look like. */
const SECRET_KEYS = [
  'password',
  'passwd',
  'secret',
  'token',
  'api_key',
  'apikey',
  'authorization',
  'cookie',
  'private_key',
];

const PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // Bearer and basic credentials in headers or text.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/g, '$1 [REDACTED]'],
  // Well-known API key shapes: OpenAI/Anthropic style, GitHub, Slack, AWS access keys, Google, Stripe.
  [/\b(sk|pk|rk)-(?:[A-Za-z0-9_-]*-)?[A-Za-z0-9_-]{16,}\b/g, '[REDACTED_KEY]'],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}\b/g, '[REDACTED_KEY]'],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g, '[REDACTED_KEY]'],
  [/\bAKIA[0-9A-Z]{16}\b/g, '[REDACTED_KEY]'],
  [/\bAIza[0-9A-Za-z_-]{35}\b/g, '[REDACTED_KEY]'],
  [/\b(sk|rk)_(live|test)_[A-Za-z0-9]{10,}\b/g, '[REDACTED_KEY]'],
  // JSON Web Tokens.
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g, '[REDACTED_JWT]'],
  // Email addresses.
  [/\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g, '[REDACTED_EMAIL]'],
];

/** Card-number candidates: 13 to 19 digits, optionally grouped by spaces or dashes; masked when Luhn-valid. */
const CARD_CANDIDATE = /\b\d(?:[ -]?\d){12,18}\b/g;

function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

export function createRedactor(options: RedactOptions = {}): Redactor {
  const maxLength = options.maxLength ?? 4096;
  const secretKeys = [...SECRET_KEYS, ...(options.secretKeys ?? []).map(key => key.toLowerCase())];
  const extra = options.patterns ?? [];
  const isSecretKey = (key: string) => {
    const lower = key.toLowerCase();
    return secretKeys.some(secret => lower.includes(secret));
  };
  return value => {
    let text: string;
    try {
      text =
        typeof value === 'string'
          ? value
          : (JSON.stringify(value, (key, member: unknown) =>
              key !== '' && isSecretKey(key) && member !== null && member !== undefined ? MASK : member,
            ) ?? String(value));
    } catch {
      text = '[unserialisable]';
    }
    for (const [pattern, replacement] of PATTERNS) text = text.replace(pattern, replacement);
    text = text.replace(CARD_CANDIDATE, match => (luhn(match.replace(/[ -]/g, '')) ? '[REDACTED_CARD]' : match));
    for (const pattern of extra) text = text.replace(pattern, MASK);
    if (text.length > maxLength) {
      text = `${text.slice(0, maxLength)}…[${text.length - maxLength} more characters]`;
    }
    return text;
  };
}
