// Card data never enters the hospital network's messages (PCI DSS keeps card numbers
// out of systems that are not built to hold them). Anything that looks like a primary
// account number, 13 to 19 digits passing the Luhn check, written together or in groups
// separated by spaces or dashes, is refused wherever it appears: in a string, a number
// or a key.

const CANDIDATE = /\d(?:[ -]?\d){12,18}/g;
const CARD_DIGITS_MIN = 13;
const CARD_DIGITS_MAX = 19;
// A UUID is an identifier (every device envelope's id is one): its dash-separated hex
// groups often hold a 13+ digit run that passes Luhn by chance, about 1 UUID in 500.
// Such a token is set aside before the digits are judged.
const UUID = /(?<![0-9A-Za-z])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Za-z])/g;
// A mainland resident ID number (GB 11643-1999: region, birth date, sequence, ISO 7064
// MOD 11-2 check character) is 17 or 18 digits in a row, and one in ten passes Luhn.
// One whose date and check character are right is set aside like a UUID.
const RESIDENT_ID = /(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])/g;
const RESIDENT_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const RESIDENT_ID_CHECK = '10X98765432';

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

export function looksLikeCardNumber(input: string): boolean {
  const text = input.replace(UUID, 'uuid').replace(RESIDENT_ID, (id) => (residentIdValid(id) ? 'resident-id' : id));
  for (const match of text.matchAll(CANDIDATE)) {
    // A longer digit run is an identifier of another kind, not a card number; only
    // runs that stand alone are judged.
    const start = match.index;
    const end = start + match[0].length;
    if (/\d/.test(text[start - 1] ?? '') || /\d/.test(text[end] ?? '')) continue;
    // +86 138 1234 5678: a phone number in international form, never a card.
    if (text[start - 1] === '+') continue;
    const digits = match[0].replace(/[ -]/g, '');
    if (digits.length >= CARD_DIGITS_MIN && digits.length <= CARD_DIGITS_MAX && luhnValid(digits)) return true;
  }
  return false;
}

function residentIdValid(id: string): boolean {
  let sum = 0;
  for (let i = 0; i < RESIDENT_ID_WEIGHTS.length; i++) sum += (id.charCodeAt(i) - 48) * RESIDENT_ID_WEIGHTS[i]!;
  return RESIDENT_ID_CHECK[sum % 11] === id[17]!.toUpperCase();
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
