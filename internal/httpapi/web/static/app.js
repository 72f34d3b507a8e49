// Comforts only: every form works without this script.
document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: <button data-copy="ID"> copies the value of #ID.
  for (const b of document.querySelectorAll("button[data-copy]")) {
    b.hidden = false;
    b.addEventListener("click", async () => {
      const src = document.getElementById(b.dataset.copy);
      try {
        await navigator.clipboard.writeText(src.value ?? src.textContent);
        b.textContent = "Copied";
      } catch {
        src.select?.();
        b.textContent = "Press Ctrl+C to copy";
      }
    });
  }
  // Confirm dialogs: <form data-confirm="question"> asks before it submits.
  for (const f of document.querySelectorAll("form[data-confirm]")) {
    f.addEventListener("submit", (e) => {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  }
});
