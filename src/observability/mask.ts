/**
 * Masks for personal data in logs and Temporal summaries: enough to tell two customers apart when
 * debugging, never enough to contact one.
 */
const DOT = '•••';

/** `alice@example.com` → `a•••@example.com` (the domain helps diagnose bounces; the user does not). */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return DOT;
  return `${email[0]}${DOT}${email.slice(at)}`;
}

/** `+15551234567` → `+1•••67`: the country code and the last two digits. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/[^\d+]/g, '');
  if (digits.length < 6) return DOT;
  return `${digits.slice(0, 2)}${DOT}${digits.slice(-2)}`;
}

/** An address of either kind (a channel's recipient). */
export const maskContact = (contact: string): string =>
  contact.includes('@') ? maskEmail(contact) : maskPhone(contact);

const EMAIL_IN_TEXT = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const PHONE_IN_TEXT = /\+\d{8,15}\b/g;

/** Free text (an error message from an SMTP server, say) with any address in it masked. */
export const maskContactsIn = (text: string): string =>
  text.replace(EMAIL_IN_TEXT, maskEmail).replace(PHONE_IN_TEXT, maskPhone);
