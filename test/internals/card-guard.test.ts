// The card guard (runtime/inner/gap/card-guard.ts): what looks like a payment card
// number is refused anywhere in a payload, and the identifiers, dates and phone
// numbers a hospital sends every day are not.
import { randomInt, randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findCardNumber, looksLikeCardNumber, luhnValid } from '../../runtime/inner/gap/card-guard.js';

const VISA = '4111111111111111';
const MASTERCARD = '5500000000000004';
const AMEX = '378282246310005';
const VISA_13 = '4222222222222';
const VISA_19 = '4000000000000000006';
const UNIONPAY_19 = '6212345678901234569';

test('the known test card numbers pass the Luhn check and a changed digit fails it', () => {
  for (const pan of [VISA, MASTERCARD, AMEX, VISA_13, VISA_19, UNIONPAY_19]) assert.ok(luhnValid(pan), pan);
  assert.not.ok(luhnValid('4111111111111112'));
  assert.not.ok(luhnValid('5500000000000005'));
});

test('a card number of 13 to 19 digits written together is taken for card data', () => {
  for (const pan of [VISA, MASTERCARD, AMEX, VISA_13, VISA_19, UNIONPAY_19]) assert.ok(looksLikeCardNumber(pan), pan);
});

test('a card number in groups separated by spaces or dashes is taken for card data', () => {
  for (const text of ['4111 1111 1111 1111', '4111-1111-1111-1111', '3782 822463 10005', '5500-0000-0000-0004', '4000 0000 0000 0000 006']) {
    assert.ok(looksLikeCardNumber(text), text);
  }
});

test('a card number inside longer text is taken for card data', () => {
  assert.ok(looksLikeCardNumber(`paid with card ${VISA} yesterday`));
  assert.ok(looksLikeCardNumber(`card:${MASTERCARD};`));
  assert.ok(looksLikeCardNumber(`Amex (${AMEX.slice(0, 4)} ${AMEX.slice(4, 10)} ${AMEX.slice(10)}) on file`));
  assert.ok(looksLikeCardNumber(`卡号${UNIONPAY_19}请核对`));
});

test('findCardNumber names the JSON pointer of a card number in a string field', () => {
  assert.is(findCardNumber({ v: 1, body: { note: `card ${VISA}` } }), '/body/note');
  assert.is(findCardNumber(`just ${VISA}`), '/');
});

test('findCardNumber finds a card number written as a JSON number', () => {
  const value = JSON.parse(`{"body":{"amount":100,"ref":${VISA}}}`);
  assert.is(findCardNumber(value), '/body/ref');
  assert.is(findCardNumber(JSON.parse(MASTERCARD)), '/');
  assert.is(findCardNumber(-Number(VISA)), '/');
});

test('findCardNumber finds a card number used as an object key, and escapes the pointer', () => {
  assert.is(findCardNumber({ body: { [VISA]: 'x' } }), `/body/${VISA}`);
  assert.is(findCardNumber({ 'a/b~c': { [`k ${AMEX}`]: 1 } }), `/a~1b~0c/k ${AMEX}`);
});

test('findCardNumber names the index of a card number inside arrays', () => {
  const value = { body: { items: [{ code: 'LAB', name: 'x' }, { code: 'MED', name: 'y', notes: ['ok', `pan ${AMEX}`] }] } };
  assert.is(findCardNumber(value), '/body/items/1/notes/1');
  assert.is(findCardNumber([1, 2, [3, VISA]]), '/2/1');
});

test('a payload without card data gives no pointer', () => {
  assert.is(findCardNumber({ v: 1, id: 'b-1', type: 'bill.create', body: { patientId: 'P-1001', items: [], total: 4000, currency: 'CNY' } }), null);
  assert.is(findCardNumber(null), null);
  assert.is(findCardNumber(true), null);
  assert.is(findCardNumber(1.5), null);
});

test('a 16-digit number that fails the Luhn check is not card data', () => {
  assert.not.ok(looksLikeCardNumber('4111111111111112'));
  assert.is(findCardNumber({ n: 4111111111111112 }), null);
});

test('digit runs shorter than 13 or longer than 19 are not card data', () => {
  assert.not.ok(looksLikeCardNumber('411111111111')); // 12 digits
  assert.not.ok(looksLikeCardNumber(`${VISA}0000`)); // 20 digits holding a card number
  assert.not.ok(looksLikeCardNumber(`${VISA_19}${VISA}`)); // 35 digits
  assert.not.ok(looksLikeCardNumber('1234 5678 9012')); // 12 digits in groups
});

test('dates and ISO timestamps are not card data', () => {
  for (const text of ['2026-11-26', '20261126', '2026-11-26T10:20:30Z', '2026-11-26T10:20:30.123+08:00', '2026-11-26 10:20:30', '26/11/2026']) {
    assert.not.ok(looksLikeCardNumber(text), text);
  }
});

test('mobile phone numbers are not card data, in local or international form', () => {
  for (const text of ['13812345678', '138 1234 5678', '+86 138 1234 5678', '+86-138-1234-5678', '+8613812345678', '010-6512 3456']) {
    assert.not.ok(looksLikeCardNumber(text), text);
  }
});

// GB 11643-1999: 6-digit region, birth date, 3-digit sequence, MOD 11-2 check character.
function residentId(): string {
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const date = new Date(Date.UTC(1930, 0, 1) + randomInt(90 * 365) * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
  const first17 = `${randomInt(110000, 660000)}${date}${String(randomInt(1000)).padStart(3, '0')}`;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * weights[i]!;
  return first17 + '10X98765432'[sum % 11]!;
}

test('Chinese resident ID numbers are not card data', () => {
  assert.not.ok(looksLikeCardNumber('11010519491231002X'));
  assert.not.ok(looksLikeCardNumber('11010519491231002x'));
  assert.not.ok(looksLikeCardNumber('身份证 11010519491231002X'));
  assert.is(findCardNumber({ body: { idCard: '11010519491231002X' } }), null);
});

test('10,000 random valid Chinese resident ID numbers are never taken for card data', () => {
  const flagged: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const id = residentId();
    if (looksLikeCardNumber(id)) flagged.push(id);
  }
  assert.equal(flagged, []);
});

test("UUIDs and the gateway's own bill and order ids are not card data", () => {
  for (const text of ['98276448-8712-4b23-8a87-d7179691d24a', '7775D512-4478-4771-8164-B78BE6947787', 'B20261126-abcd-000001', 'P20261126-abcd-000123']) {
    assert.not.ok(looksLikeCardNumber(text), text);
  }
});

test('10,000 random v4 UUIDs are never taken for card data', () => {
  const flagged: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const id = randomUUID();
    if (looksLikeCardNumber(id)) flagged.push(id);
  }
  assert.equal(flagged, []);
});

test('10,000 random ISO timestamps are never taken for card data', () => {
  const from = Date.UTC(1970, 0, 1);
  const span = Date.UTC(2100, 0, 1) - from;
  const flagged: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const ts = new Date(from + Math.floor(Math.random() * span)).toISOString();
    if (looksLikeCardNumber(ts)) flagged.push(ts);
  }
  assert.equal(flagged, []);
});

test('a device envelope as the client builds it (UUID id, ISO ts) carries no card data', () => {
  for (let i = 0; i < 2_000; i++) {
    const envelope = { v: 1, id: randomUUID(), type: 'bill.create', ts: new Date().toISOString(), body: { patientId: 'P-1001', reference: `INV-${i}`, items: [], total: 0, currency: 'CNY' } };
    assert.is(findCardNumber(envelope), null, envelope.id);
  }
});

test('a card number next to a UUID is still found', () => {
  assert.ok(looksLikeCardNumber(`${randomUUID()} ${VISA}`));
  assert.is(findCardNumber({ id: randomUUID(), body: { note: `${randomUUID()}/${MASTERCARD}` } }), '/body/note');
});

test.run();
