'use strict';
// A policy's form shows only the subject fields its scope (and kind) uses. The map comes from
// the scope select's data-subject-fields (policies/admin_mixins.py); the server ignores the
// hidden fields anyway, so this is a convenience, not the rule.
window.addEventListener('load', function () {
    const scope = document.querySelector('select[data-subject-fields]');
    if (!scope) {
        return;
    }
    const map = JSON.parse(scope.dataset.subjectFields);
    const kind = scope.dataset.kindField ? document.getElementById('id_' + scope.dataset.kindField) : null;
    const every = new Set();
    Object.values(map).forEach(function (byScope) {
        Object.values(byScope).forEach(function (fields) {
            fields.forEach(function (name) { every.add(name); });
        });
    });
    function update() {
        const byScope = (kind && map[kind.value]) || map['*'] || {};
        const shown = new Set(byScope[scope.value] || []);
        every.forEach(function (name) {
            document.querySelectorAll('.field-' + name).forEach(function (row) {
                row.hidden = !shown.has(name);
            });
        });
    }
    scope.addEventListener('change', update);
    if (kind) {
        kind.addEventListener('change', update);
    }
    update();
});
