/**
 * Turns tool arguments and results into span attribute text with secrets masked and a bounded size. Content is off
 * by default; a tool opts in (policy `monitoring.record_content`), and even then this runs on everything recorded.
 */
export type Redactor = (value: unknown) => string;

export interface RedactOptions {
  /** Longest attribute value, in characters; longer text is cut with a marker. Default 4096. */
  readonly maxLength?: number;
  /**
   * Extra object keys whose values are always masked: matched as substrings, ignoring case, dashes, underscores and
   * spaces (`apiKey`, `api-key` and `API_KEY` are one key).
   */
  readonly secretKeys?: readonly string[];
  /** Extra patterns to mask in the text. */
  readonly patterns?: readonly RegExp[];
}

const MASK = '[REDACTED]';

/** Keys whose values are secrets whatever they look like, as substrings of the key with `-`, `_` and spaces gone. */
const SECRET_KEYS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'accesskey',
  'authorization',
  'cookie',
  'privatekey',
  'credential',
  'signature',
];

/** Short keys that are secrets only as the whole key (`pass`, not `passport`). */
const SECRET_WHOLE_KEYS = new Set(['pass', 'pwd', 'pin', 'cvv', 'cvc', 'auth', 'otp']);

/** `key=value` and `key: value` pairs in text (query strings, DSNs, log lines) whose key names a secret. */
const SECRET_PAIR =
  /(password|passwd|pwd|pass|secret|token|api[_-]?key|access[_-]?key|auth|credentials?)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,"'}]+)/gi;

const PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // Bearer and basic credentials in headers or text, however they are capitalised.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/gi, '$1 [REDACTED]'],
  // The password in a URL's user info (postgres://user:password@host), before the email pattern sees `password@host`.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^:/\s@]+):[^@\s/]+@/gi, '$1:[REDACTED]@'],
  [SECRET_PAIR, '$1$2[REDACTED]'],
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

/** `api-key`, `API_KEY` and `apiKey` are one key. */
function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[-_\s]/g, '');
}

/**
 * A card number among the digits: the whole run when it passes the Luhn check, else its longest leading groups that
 * do (a card number followed by its CVV, `4111 1111 1111 1111 123`).
 */
function maskCard(match: string): string {
  const groups = match.split(/([ -])/);
  for (let end = groups.length; end > 0; end -= 2) {
    const head = groups.slice(0, end).join('');
    const digits = head.replace(/[ -]/g, '');
    if (digits.length < 13) break;
    if (digits.length <= 19 && luhn(digits)) return `[REDACTED_CARD]${match.slice(head.length)}`;
  }
  return match;
}

export function createRedactor(options: RedactOptions = {}): Redactor {
  const maxLength = options.maxLength ?? 4096;
  const secretKeys = [...SECRET_KEYS, ...(options.secretKeys ?? []).map(normaliseKey)];
  const extra = options.patterns ?? [];
  const isSecretKey = (key: string) => {
    const normal = normaliseKey(key);
    return SECRET_WHOLE_KEYS.has(normal) || secretKeys.some(secret => normal.includes(secret));
  };
  const serialise = (value: unknown) =>
    JSON.stringify(value, (key, member: unknown) =>
      key !== '' && isSecretKey(key) && member !== null && member !== undefined ? MASK : member,
    ) ?? String(value);
  return value => {
    let text: string;
    try {
      text = typeof value === 'string' ? (maskJsonText(value, serialise) ?? value) : serialise(value);
    } catch {
      text = '[unserialisable]';
    }
    for (const [pattern, replacement] of PATTERNS) text = text.replace(pattern, replacement);
    text = text.replace(CARD_CANDIDATE, maskCard);
    for (const pattern of extra) text = text.replace(pattern, MASK);
    if (text.length > maxLength) {
      text = `${text.slice(0, maxLength)}…[${text.length - maxLength} more characters]`;
    }
    return text;
  };
}

/** A string that is a JSON object or array (a request body, say) gets its secret keys masked like an object's. */
function maskJsonText(text: string, serialise: (value: unknown) => string): string | undefined {
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') return undefined;
  try {
    return serialise(JSON.parse(text));
  } catch {
    return undefined;
  }
}
