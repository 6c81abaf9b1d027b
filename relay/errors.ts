/**
 * The error relay handlers throw to refuse a request (docs/ARCHITECTURE.md §5.2): an SmsgError
 * whose code is one of the wire's ERROR_CODES, so the connection answers the request with an
 * `error` message of that code (and closes when the code says so).
 */
import { type ErrorCode, SmsgError } from "../src/errors.js";

/** An error a handler throws to answer the request with `code`. */
export class RelayError extends SmsgError {
  declare readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(code, message);
  }
}
