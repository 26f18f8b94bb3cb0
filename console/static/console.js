// A little help on top of pages that work without it: nothing here is needed to use the console.
// The correction form: choosing a field's "correct" link fills the field selector.
document.addEventListener("DOMContentLoaded", () => {
  const select = document.getElementById("correct-field");
  if (!select) return;
  for (const row of document.querySelectorAll("tr[id^='field-']")) {
    row.addEventListener("dblclick", () => {
      select.value = row.id.slice("field-".length);
      select.focus();
    });
  }
});
