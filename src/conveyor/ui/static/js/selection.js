// The runs picked for comparison, kept in this tab's sessionStorage: a pick survives paging,
// filtering, reloads and going back, on the runs list and the compare picker alike.

const KEY = "conveyor.compare";
/** The most runs /api/compare takes at once. */
export const MAX = 20;

export function picked() {
  try {
    const ids = JSON.parse(window.sessionStorage.getItem(KEY) || "[]");
    return Array.isArray(ids) ? ids.filter((id) => typeof id === "string" && /^[0-9a-f]{6,64}$/.test(id)) : [];
  } catch (err) {
    return [];
  }
}

export function setPicked(ids) {
  const unique = [...new Set(ids)];
  if (unique.length) window.sessionStorage.setItem(KEY, JSON.stringify(unique));
  else window.sessionStorage.removeItem(KEY);
  return unique;
}

export function pick(id, on) {
  const ids = picked().filter((x) => x !== id);
  if (on) ids.push(id);
  return setPicked(ids);
}
