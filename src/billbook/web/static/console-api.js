// The internal API for the operator console: the admin token travels only in the Authorization header.
//
// The same client as the dashboard's (exact money, 429 handling); only the routes differ. `forAccount`
// gives the dashboard's records and spend views a client scoped to one account, so they run unchanged.

import { Api } from "./api.js";

/** "?a=1&b=x" from the parameters that are set (null, undefined and "" are left out). */
export function queryString(params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : "";
}

const INTERNAL = "/internal/v1";

export class AdminApi extends Api {
  /** The dashboard's webhooks view, run on this client, lists the platform's endpoints. */
  webhooksBase = INTERNAL;

  /** The token's name and role (`read` or `write`). */
  whoami(opts) { return this.request("GET", `${INTERNAL}/whoami`, undefined, opts); }

  /** Every account's balance summed, and what open orders hold. */
  totals(opts) { return this.request("GET", `${INTERNAL}/totals`, undefined, opts); }
  accounts(params, opts) { return this.request("GET", `${INTERNAL}/accounts${queryString(params)}`, undefined, opts); }
  account(id, opts) { return this.request("GET", `${INTERNAL}/accounts/${id}`, undefined, opts); }
  /** An account's keys, newest first: the first 100 (what the account's own answer carries too). */
  keys(id, opts) { return this.request("GET", `${INTERNAL}/accounts/${id}/keys${queryString({ page_size: 100 })}`, undefined, opts); }
  audit(params, opts) { return this.request("GET", `${INTERNAL}/audit${queryString(params)}`, undefined, opts); }
  searchBillings(body, opts) { return this.request("POST", `${INTERNAL}/billings/search`, body, opts); }
  usageStats(body, opts) { return this.request("POST", `${INTERNAL}/usage_stats`, body, opts); }

  /** A retry with the same `idempotencyKey` gets the first key back instead of a second key. */
  createKey(id, name, idempotencyKey, opts = {}) {
    const headers = { "Idempotency-Key": idempotencyKey };
    return this.request("POST", `${INTERNAL}/accounts/${id}/keys`, { name }, { ...opts, headers });
  }
  revokeKey(accessKeyId, opts) {
    return this.request("DELETE", `${INTERNAL}/keys/${encodeURIComponent(accessKeyId)}`, undefined, opts);
  }
  /** `body`: {amount (decimal text), reference, reason}; idempotent on `reference`. */
  recharge(id, body, opts) { return this.request("POST", `${INTERNAL}/accounts/${id}/recharges`, body, opts); }
  adjust(id, body, opts) { return this.request("POST", `${INTERNAL}/accounts/${id}/adjustments`, body, opts); }

  /** Replace the operator's limits on an account (keyId null) or on one of its keys; {daily, monthly, total}. */
  setLimits(id, keyId, body, opts) {
    const path = keyId ? `${INTERNAL}/keys/${encodeURIComponent(keyId)}/limits` : `${INTERNAL}/accounts/${id}/limits`;
    return this.request("PUT", path, body, opts);
  }

  /**
   * A client the dashboard's views can use as theirs: search, spend and statements of one account
   * (the platform's webhooks as the unscoped client's: they belong to no account).
   */
  forAccount(accountId) {
    const base = `${INTERNAL}/accounts/${accountId}`;
    return Object.assign(Object.create(this), {
      searchBillings: (body, opts) => this.searchBillings({ ...body, account_id: accountId }, opts),
      usageStats: (body, opts) => this.usageStats({ ...body, account_id: accountId }, opts),
      statement: (month, opts) => this.request("GET", `${base}/statements/${month}`, undefined, opts),
      statementPdf: (month, opts) => this.document(`${base}/statements/${month}.pdf`, opts),
      receiptPdf: (uuid, opts) => this.document(`${base}/receipts/${encodeURIComponent(uuid)}.pdf`, opts),
    });
  }
}
