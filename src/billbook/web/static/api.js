// The public API, and nothing else: the key travels only in the Authorization header.

export class ApiError extends Error {
  constructor(status, message, { retryAfter = null, network = false } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.retryAfter = retryAfter;
    this.network = network;
  }
  get unauthorized() { return this.status === 401; }
}

const MAX_RATE_LIMIT_RETRIES = 3;

export class Api {
  /** Where the webhook routes live: the customer's own; the console's client names the platform's. */
  webhooksBase = "/api/v3";

  constructor(apiKey, baseUrl = "") {
    this.apiKey = apiKey;
    this.baseUrl = baseUrl;
  }

  /** `headers`: extra request headers (the console's `Idempotency-Key`). */
  async request(method, path, body, { signal, headers = {} } = {}) {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await fetch(this.baseUrl + path, {
          method,
          headers: {
            "Authorization": `Bearer ${this.apiKey}`,
            "Accept": "application/json",
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
            ...headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: "omit",
          cache: "no-store",
          referrerPolicy: "no-referrer",
          signal,
        });
      } catch (err) {
        if (err && err.name === "AbortError") throw err;
        throw new ApiError(0, "Could not reach the server. Check your connection and try again.", { network: true });
      }
      let payload = null;
      const text = await response.text();
      try { payload = text ? parseExact(text) : null; } catch { payload = null; }

      if (response.status === 429 && attempt < MAX_RATE_LIMIT_RETRIES) {
        const wait = retryAfterSeconds(response);
        if (wait !== null && wait <= 10) {
          await sleep(wait * 1000, signal);
          continue;
        }
      }
      if (!response.ok || !payload || (payload.code !== undefined && payload.code !== 200)) {
        const status = response.ok && payload && payload.code ? payload.code : response.status;
        const message = payload && typeof payload.message === "string" && payload.message
          ? payload.message
          : defaultMessage(status);
        throw new ApiError(status, message, { retryAfter: retryAfterSeconds(response) });
      }
      return payload.data;
    }
  }

  /**
   * A document (a statement or receipt PDF) as a Blob. An error comes as the JSON envelope and is
   * thrown as an ApiError, as for every other call.
   */
  async document(path, { signal } = {}) {
    let response;
    try {
      response = await fetch(this.baseUrl + path, {
        headers: { "Authorization": `Bearer ${this.apiKey}`, "Accept": "application/pdf, application/json" },
        credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer", signal,
      });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError(0, "Could not reach the server. Check your connection and try again.", { network: true });
    }
    if (response.ok && !(response.headers.get("Content-Type") || "").startsWith("application/json")) {
      return response.blob();
    }
    let payload = null;
    try { payload = parseExact(await response.text()); } catch { payload = null; }
    const status = response.ok && payload && payload.code ? payload.code : response.status;
    const message = payload && typeof payload.message === "string" && payload.message ? payload.message : defaultMessage(status);
    throw new ApiError(status, message, { retryAfter: retryAfterSeconds(response) });
  }

  balance(opts) { return this.request("GET", "/api/v3/balance", undefined, opts); }
  /** The statement of a UTC month, "2026-10". */
  statement(month, opts) { return this.request("GET", `/api/v3/statements/${month}`, undefined, opts); }
  statementPdf(month, opts) { return this.document(`/api/v3/statements/${month}.pdf`, opts); }
  /** The receipt of a recharge record. */
  receiptPdf(recordUuid, opts) { return this.document(`/api/v3/receipts/${encodeURIComponent(recordUuid)}.pdf`, opts); }
  searchBillings(body, opts) { return this.request("POST", "/api/v3/billings/search", body, opts); }
  usageStats(body, opts) { return this.request("POST", "/api/v3/user/usage_stats", body, opts); }
  models(opts) { return this.request("GET", "/api/v3/models", undefined, opts); }
  accountLimits(opts) { return this.request("GET", "/api/v3/account/limits", undefined, opts); }
  accessKeys(opts) { return this.request("GET", "/api/v3/access_keys", undefined, opts); }
  /** Replace the caller's own limits on the account (keyId null) or on one of its keys. */
  setLimits(keyId, body, opts) {
    const path = keyId ? `/api/v3/access_keys/${encodeURIComponent(keyId)}/limits` : "/api/v3/account/limits";
    return this.request("PUT", path, body, opts);
  }
  alerts(opts) { return this.request("GET", "/api/v3/account/alerts", undefined, opts); }
  setAlerts(lowBalance, opts) { return this.request("PUT", "/api/v3/account/alerts", { low_balance: lowBalance }, opts); }
  webhooks(opts) { return this.request("GET", `${this.webhooksBase}/webhooks`, undefined, opts); }
  createWebhook(url, events, opts) { return this.request("POST", `${this.webhooksBase}/webhooks`, { url, events }, opts); }
  deleteWebhook(id, opts) { return this.request("DELETE", `${this.webhooksBase}/webhooks/${encodeURIComponent(id)}`, undefined, opts); }
  deliveries(id, page, pageSize, opts) {
    return this.request("GET", `${this.webhooksBase}/webhooks/${encodeURIComponent(id)}/deliveries?page=${page}&page_size=${pageSize}`, undefined, opts);
  }
  resend(id, deliveryId, opts) {
    return this.request("POST", `${this.webhooksBase}/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}/resend`, undefined, opts);
  }
  /** What a request to `modelId` costs this account; without `inputs`, the base price. */
  price(modelId, inputs, opts) {
    const body = inputs === undefined ? { model_id: modelId } : { model_id: modelId, inputs };
    return this.request("POST", "/api/v3/model/price", body, opts);
  }
}

/**
 * JSON.parse, except that a number whose JavaScript value would not write back as the same text
 * (8999999999.999999, 0.10, 2^53 + 1) is kept as that text, so money stays exact; money.js reads both.
 * Browsers without the parser's source text keep plain numbers.
 */
export function parseExact(text) {
  return JSON.parse(text, (key, value, context) => {
    if (typeof value !== "number" || !context || typeof context.source !== "string") return value;
    return context.source === String(value) ? value : context.source;
  });
}

function retryAfterSeconds(response) {
  const raw = response.headers.get("Retry-After");
  if (!raw) return null;
  const n = Number(raw);
  if (Number.isFinite(n)) return Math.max(0, n);
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, (at - Date.now()) / 1000) : null;
}

function defaultMessage(status) {
  if (status === 401) return "The API key was not accepted.";
  if (status === 404) return "The server does not offer this endpoint.";
  if (status === 429) return "Too many requests. Wait a moment and try again.";
  if (status >= 500) return "The server had a problem. Try again in a moment.";
  return `The request failed (HTTP ${status}).`;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(t); reject(new DOMException("Aborted", "AbortError")); }, { once: true });
  });
}
