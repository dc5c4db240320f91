// The one error class every rejected SDK promise carries.
export class SdkError extends Error {
  constructor(message, status, code, errors) {
    super(message);
    this.name = 'SdkError';
    // HTTP status of the server's answer; 0 when no answer was received.
    this.status = status;
    // Stable machine-readable code, e.g. "not_found" or "email_taken".
    this.code = code;
    // Per-field problems for validation errors, else undefined.
    this.errors = errors;
  }
}
// Its name survives minification (for `err.constructor.name` and stack traces).
Object.defineProperty(SdkError, 'name', { value: 'SdkError' });
