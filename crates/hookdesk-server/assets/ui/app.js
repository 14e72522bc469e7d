// hookdesk admin UI: the little that needs a script (the CSP allows only files served from
// here). Everything readable works without it; htmx does the partial updates.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (source && navigator.clipboard) {
    navigator.clipboard.writeText(source.textContent.trim()).then(() => { button.textContent = "Copied"; });
  }
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
// A file input with data-fills="ID" puts the text of the files chosen into the textarea ID,
// one after the other (Zendesk's answers, to import).
document.addEventListener("change", (event) => {
  const input = event.target.closest("input[type=file][data-fills]");
  if (!input) return;
  const target = document.getElementById(input.dataset.fills);
  Promise.all(Array.from(input.files).map((file) => file.text())).then((texts) => {
    if (target) target.value = texts.join("\n");
  });
});
// The rule editor: a button with data-insert="SELECT" and data-into="TEXTAREA" puts the
// placeholder chosen in SELECT at the cursor of the row's text box used last (TEXTAREA until
// one is), and so refreshes its live preview.
document.addEventListener("focusin", (event) => {
  const box = event.target.closest(".row-detail textarea, .row-detail input[type=text]");
  if (box && box.id) box.closest(".row-detail").dataset.lastBox = box.id;
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-insert]");
  if (!button) return;
  const source = document.getElementById(button.dataset.insert);
  const last = button.closest(".row-detail")?.dataset.lastBox;
  const target = document.getElementById(last || button.dataset.into);
  if (!source || !target) return;
  // A filter chosen beside the list goes inside the braces: {{ ticket.subject | uri_encode }}.
  const filterSelect = document.getElementById(button.dataset.filter);
  const filter = filterSelect?.value;
  const chosen = filter ? source.value.replace(/\s*\}\}$/, ` | ${filter} }}`) : source.value;
  // Each placeholder is written as it is unless asked otherwise: the choice does not stick.
  if (filterSelect) filterSelect.value = "";
  const start = target.selectionStart ?? target.value.length;
  const end = target.selectionEnd ?? start;
  target.value = target.value.slice(0, start) + chosen + target.value.slice(end);
  target.focus();
  target.selectionStart = target.selectionEnd = start + chosen.length;
  target.dispatchEvent(new Event("input", { bubbles: true }));
});
// Times: the server writes <time datetime="ISO">2026-12-07 05:30:44 UTC</time>, readable
// without a script; here they read "2 min ago" in the reader's terms, the exact local time on
// hover, and stay current (also in what htmx swaps in).
function relativeTime(at, now) {
  const seconds = Math.round((now - at) / 1000);
  const ahead = seconds < 0;
  const s = Math.abs(seconds);
  let text;
  if (s < 45) return ahead ? "in a moment" : "just now";
  else if (s < 3600) text = `${Math.max(1, Math.round(s / 60))} min`;
  else if (s < 86400) text = `${Math.round(s / 3600)} h`;
  else if (s < 30 * 86400) { const d = Math.round(s / 86400); text = d === 1 ? "1 day" : `${d} days`; }
  else return at.toLocaleDateString(undefined, { dateStyle: "medium" });
  return ahead ? `in ${text}` : `${text} ago`;
}
function showTimes(root) {
  const now = Date.now();
  root.querySelectorAll("time[datetime]").forEach((element) => {
    const at = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) return;
    element.title = at.toLocaleString(undefined, { dateStyle: "full", timeStyle: "long" });
    element.textContent = relativeTime(at, now);
  });
}
showTimes(document);
document.addEventListener("htmx:afterSwap", (event) => showTimes(event.target));
setInterval(() => showTimes(document), 30000);

// Copy buttons (data-copy="ID": the text of element ID) are hidden in the markup: without
// this script they could do nothing, so they only appear with it.
const showCopyButtons = (root) => {
  if (!navigator.clipboard) return;
  root.querySelectorAll("button[data-copy][hidden]").forEach((button) => { button.hidden = false; });
};
document.addEventListener("DOMContentLoaded", () => showCopyButtons(document));
document.addEventListener("htmx:afterSettle", (event) => showCopyButtons(event.target));

// Date pickers marked data-utc hold UTC (what the server reads without a script); here they
// show and take the reader's local time: converted on load, their label says so, and on
// submit a hidden field carries the picked moment as UTC in the picker's place.
const pad = (n) => String(n).padStart(2, "0");
const localPickerValue = (at) =>
  `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
document.querySelectorAll("input[type=datetime-local][data-utc]").forEach((input) => {
  if (input.value) {
    const at = new Date(`${input.value}Z`);
    if (!Number.isNaN(at.getTime())) input.value = localPickerValue(at);
  }
  const zone = document.querySelector(`[data-zone-for="${input.id}"]`);
  if (zone) zone.textContent = `your time, ${Intl.DateTimeFormat().resolvedOptions().timeZone}`;
  input.dataset.local = "true";
});
document.addEventListener("submit", (event) => {
  event.target.querySelectorAll("input[type=datetime-local][data-local]").forEach((input) => {
    if (!input.value || !input.name) return;
    const at = new Date(input.value);
    if (Number.isNaN(at.getTime())) return;
    const utc = document.createElement("input");
    utc.type = "hidden";
    utc.name = input.name;
    utc.value = at.toISOString();
    input.removeAttribute("name");
    input.after(utc);
  });
});

// The webhook form: only the inputs of the authentication type chosen show (all show without
// this script).
const authType = document.getElementById("authentication.type");
const showAuthInputs = () => {
  document.querySelectorAll("[data-auth]").forEach((group) => { group.hidden = group.dataset.auth !== authType.value; });
};
if (authType) {
  showAuthInputs();
  authType.addEventListener("change", showAuthInputs);
}
