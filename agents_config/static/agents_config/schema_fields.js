// A row added with "Add another schema field" goes after the existing rows (next position).
document.addEventListener("formset:added", (event) => {
  if (event.detail.formsetName !== "schema_fields") return;
  const positions = [...document.querySelectorAll('#schema_fields-group tr.form-row:not(.empty-form) input[name$="-position"]')]
    .filter((input) => input !== event.target.querySelector('input[name$="-position"]'))
    .map((input) => parseInt(input.value, 10))
    .filter((value) => !Number.isNaN(value));
  const input = event.target.querySelector('input[name$="-position"]');
  if (input) input.value = positions.length ? Math.max(...positions) + 1 : 0;
});
