// Masking of what identifies a patient, applied to every query answer unless an admin
// asked for it unmasked (docs/design.md, "The parts": the information storage module). Fields are
// masked by name; any other text is searched for mainland mobile numbers and resident
// ID numbers, which may hide in what a patient typed (a dispatch's symptoms).
const MASK = '***';
const MOBILE_IN_TEXT = /(?<![0-9])1[3-9][0-9]{9}(?![0-9])/g;
const ID_CARD_IN_TEXT = /(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])/g;

const PATIENT_FIELD = /patientid$/i;
const PHONE_FIELD = /(phone|mobile|tel)$/i;
const ID_CARD_FIELD = /(idcard|idnumber|idno|idcardno)$/i;

// `P-12345` → `P-1***`: enough to tell rows apart on a screen, not to identify anyone.
export function maskPatientId(id: string): string {
  return id.slice(0, Math.min(3, Math.max(0, id.length - 1))) + MASK;
}

// `13812345678` → `138****5678`.
export function maskPhone(phone: string): string {
  if (phone.length <= 4) return '*'.repeat(phone.length);
  const keepHead = phone.length >= 11 ? 3 : 0;
  return phone.slice(0, keepHead) + '*'.repeat(phone.length - keepHead - 4) + phone.slice(-4);
}

// `110105199001011234` → `110105********1234`: the region code and the check digits stay.
export function maskIdCard(id: string): string {
  if (id.length < 12) return '*'.repeat(Math.max(0, id.length - 2)) + id.slice(-2);
  return id.slice(0, 6) + '*'.repeat(id.length - 10) + id.slice(-4);
}

export function maskText(text: string): string {
  return text.replace(ID_CARD_IN_TEXT, maskIdCard).replace(MOBILE_IN_TEXT, maskPhone);
}

// A masked deep copy. Depth is bounded by what the store holds (our own records).
export function maskValue(value: unknown, field = ''): unknown {
  if (typeof value === 'string') {
    if (PATIENT_FIELD.test(field)) return maskPatientId(value);
    if (PHONE_FIELD.test(field)) return maskPhone(value);
    if (ID_CARD_FIELD.test(field)) return maskIdCard(value);
    return maskText(value);
  }
  if (Array.isArray(value)) return value.map((v) => maskValue(v, field));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskValue(v, k)]));
  }
  return value;
}
