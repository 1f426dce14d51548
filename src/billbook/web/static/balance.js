// The balance in the top bar.

import { toMicros, formatUSD } from "./money.js";
import { $, errorText } from "./dom.js";
import { session, handleAuthError, whenSignedOut } from "./session.js";

export async function loadBalance() {
  const node = $("balance");
  node.setAttribute("aria-busy", "true");
  try {
    renderBalance(await session.api.balance());
  } catch (err) {
    if (handleAuthError(err)) return;
    node.textContent = "unavailable";
    node.title = errorText(err, "the balance");
  } finally {
    node.removeAttribute("aria-busy");
  }
}

export function renderBalance(data) {
  const node = $("balance");
  const micros = toMicros(data.balance);
  const currency = data.currency && data.currency !== "USD" ? ` ${data.currency}` : "";
  node.textContent = formatUSD(micros) + currency;
  node.title = "";
  node.classList.toggle("low", micros <= 0n);
}

whenSignedOut(() => { $("balance").textContent = "…"; });
