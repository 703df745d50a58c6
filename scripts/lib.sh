# shellcheck shell=bash
# Shared by scripts/test.sh and scripts/up.sh: puts Node >= 22 on PATH and installs the npm packages.
# Sourced, not run.

# Node.js >= 22 is what @pulumi/pulumi declares. Where the system Node is older, the official
# Node 24 binary comes from the npm registry as the platform package node-linux-<arch>.
ensure_node() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge 22 ]; then
    return 0
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "error: no Node 24 package for $(uname -m); install Node.js >= 22 yourself" >&2; return 1 ;;
  esac
  local dir="$PWD/.tools/node24"
  if [ ! -x "$dir/node_modules/node-linux-$arch/bin/node" ]; then
    echo "== installing Node 24 (system Node is $(node --version 2>/dev/null || echo missing)) into .tools/node24"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node-linux-$arch@24"
  fi
  export PATH="$dir/node_modules/node-linux-$arch/bin:$PATH"
}

# npm ci only when package-lock.json changed since the last install, so repeated runs stay fast.
ensure_npm_packages() {
  local stamp=node_modules/.lock-sha256 want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
  fi
}
