#!/usr/bin/env bash
# Re-vendor the front-end files the console serves itself (no CDN).
#
#   scripts/vendor_assets.sh                 # the pinned versions below
#   HTMX_VERSION=2.0.11 scripts/vendor_assets.sh
#
# Each package is fetched with `npm pack` (a tarball from the npm registry, no node_modules, no
# install scripts run), unpacked in a temporary folder, and only the files the pages use are copied
# into static/vendor/, together with the package's licence. static/vendor/README.md is rewritten.
set -euo pipefail

HTMX_VERSION="${HTMX_VERSION:-2.0.11}"
BOOTSTRAP_VERSION="${BOOTSTRAP_VERSION:-5.3.9}"
TOM_SELECT_VERSION="${TOM_SELECT_VERSION:-2.6.2}"

root="$(cd "$(dirname "$0")/.." && pwd)"
vendor="$root/static/vendor"
command -v npm >/dev/null || { echo "vendor_assets: npm is needed (apt-get install npm)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# fetch PACKAGE VERSION -> prints the folder the tarball was unpacked into
fetch() {
    local dir="$work/$1"
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$1@$2" >/dev/null && tar -xzf ./*.tgz)
    echo "$dir/package"
}

# copy SRC DEST: copy one file, failing loudly when the package layout changed
copy() {
    [ -f "$1" ] || { echo "vendor_assets: $1 is missing from the package" >&2; exit 1; }
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2"
}

htmx="$(fetch htmx.org "$HTMX_VERSION")"
copy "$htmx/dist/htmx.min.js" "$vendor/htmx/htmx.min.js"
copy "$htmx/LICENSE" "$vendor/htmx/LICENSE"

bootstrap="$(fetch bootstrap "$BOOTSTRAP_VERSION")"
copy "$bootstrap/dist/css/bootstrap.min.css" "$vendor/bootstrap/bootstrap.min.css"
copy "$bootstrap/LICENSE" "$vendor/bootstrap/LICENSE"
# The minified CSS ends with a sourceMappingURL comment; the map is not vendored, so drop the
# comment or browsers' dev tools ask for a file that does not exist.
sed -i '/sourceMappingURL=/d' "$vendor/bootstrap/bootstrap.min.css"

# The "popular" build: the core plus the plugins the pickers use (remove_button among them).
tom_select="$(fetch tom-select "$TOM_SELECT_VERSION")"
copy "$tom_select/dist/js/tom-select.popular.min.js" "$vendor/tom-select/tom-select.popular.min.js"
copy "$tom_select/dist/css/tom-select.bootstrap5.min.css" "$vendor/tom-select/tom-select.bootstrap5.min.css"
copy "$tom_select/LICENSE" "$vendor/tom-select/LICENSE"
sed -i '/sourceMappingURL=/d' "$vendor/tom-select/tom-select.popular.min.js" \
    "$vendor/tom-select/tom-select.bootstrap5.min.css"

cat > "$vendor/README.md" <<MD
# Vendored front-end files

Served by Django's staticfiles (WhiteNoise in production); nothing is loaded from a CDN.
Regenerate with \`scripts/vendor_assets.sh\` (it runs \`npm pack <package>@<version>\` and copies
the files below); bump a version there, never edit these files by hand.

| package | version | file | licence |
|---|---|---|---|
| [htmx.org](https://www.npmjs.com/package/htmx.org) | $HTMX_VERSION | \`htmx/htmx.min.js\` | 0BSD — \`htmx/LICENSE\` |
| [bootstrap](https://www.npmjs.com/package/bootstrap) | $BOOTSTRAP_VERSION | \`bootstrap/bootstrap.min.css\` | MIT — \`bootstrap/LICENSE\` |
| [tom-select](https://www.npmjs.com/package/tom-select) | $TOM_SELECT_VERSION | \`tom-select/tom-select.popular.min.js\`, \`tom-select/tom-select.bootstrap5.min.css\` | Apache-2.0 — \`tom-select/LICENSE\` |

\`bootstrap.min.css\` and the Tom Select files have their \`sourceMappingURL\` comments removed (the
maps are not vendored). Tom Select is started by \`static/js/pickers.js\` (ours).
MD

echo "vendored htmx.org@$HTMX_VERSION, bootstrap@$BOOTSTRAP_VERSION and tom-select@$TOM_SELECT_VERSION into $vendor"
