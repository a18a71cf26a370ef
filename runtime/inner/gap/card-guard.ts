// Card data never enters the hospital network's messages (PCI DSS keeps card numbers
// out of systems that are not built to hold them). Anything that looks like a primary
// account number, 13 to 19 digits passing the Luhn check, written together or in groups
// separated by spaces or dashes, is refused wherever it appears: in a string, a number
// or a key.

const CANDIDATE = /\d(?:[ -]?\d){12,18}/g;
const CARD_DIGITS_MIN = 13;
const CARD_DIGITS_MAX = 19;

export function luhnValid(digits: string): boolean {
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

export function looksLikeCardNumber(text: string): boolean {
  for (const match of text.matchAll(CANDIDATE)) {
    // A longer digit run is an identifier of another kind, not a card number; only
    // runs that stand alone are judged.
    const start = match.index;
    const end = start + match[0].length;
    if (/\d/.test(text[start - 1] ?? '') || /\d/.test(text[end] ?? '')) continue;
    const digits = match[0].replace(/[ -]/g, '');
    if (digits.length >= CARD_DIGITS_MIN && digits.length <= CARD_DIGITS_MAX && luhnValid(digits)) return true;
  }
  return false;
}

// Returns the JSON pointer of the first value or key that carries a card number.
export function findCardNumber(value: unknown, pointer = ''): string | null {
  if (typeof value === 'string') return looksLikeCardNumber(value) ? pointer || '/' : null;
  if (typeof value === 'number') return Number.isInteger(value) && looksLikeCardNumber(Math.abs(value).toFixed(0)) ? pointer || '/' : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findCardNumber(value[i], `${pointer}/${i}`);
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      const here = `${pointer}/${escapePointer(key)}`;
      if (looksLikeCardNumber(key)) return here;
      const found = findCardNumber(v, here);
      if (found) return found;
    }
  }
  return null;
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
