# shellcheck shell=bash
# The real Pulumi CLI for the tests, at the version the workflows, README and scripts/up.sh pin
# (test/pulumiVersion.test.ts keeps them equal). A user installs it with Pulumi's official installer;
# the test machines have no route to Pulumi's download site, so the tests build the same release from
# the Go module proxy instead. Built once per version and cached outside the clone (like the Python
# environment), so a warm machine pays nothing. Sourced, not run.

PULUMI_CLI_VERSION=3.276.0
PULUMI_CLI_CACHE=${PULUMI_CLI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gpu-inference-aks}

# Prints the directory holding a `pulumi` binary of exactly PULUMI_CLI_VERSION, building it if needed.
ensure_pulumi_cli() {
  local dir="$PULUMI_CLI_CACHE/pulumi-cli-v$PULUMI_CLI_VERSION" module
  if [ "$("$dir/bin/pulumi" version 2>/dev/null)" = "v$PULUMI_CLI_VERSION" ]; then
    echo "$dir/bin"
    return 0
  fi
  if ! command -v go >/dev/null; then
    echo "error: Go is needed to build the Pulumi CLI $PULUMI_CLI_VERSION for the tests (or put that release's pulumi in $dir/bin)" >&2
    return 1
  fi
  echo "== building the Pulumi CLI v$PULUMI_CLI_VERSION from the Go module proxy into $dir (once per version; minutes)" >&2
  module=$(mktemp -d)
  # `go install …/cmd/pulumi@v` is refused: pkg/v3's go.mod has replace directives, which only a main
  # module may carry. A wrapper module that imports the command and repeats the one replace the build
  # needs (atotto/clipboard, as pkg/v3's go.mod replaces it) builds the release's own code.
  (
    set -e
    cd "$module"
    cat >tools.go <<'EOF'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
EOF
    go mod init pulumi-cli-for-tests >/dev/null 2>&1
    go mod edit -replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
    go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$PULUMI_CLI_VERSION" >/dev/null 2>&1
    mkdir -p "$dir/bin.new"
    go build -o "$dir/bin.new/pulumi" \
      -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_CLI_VERSION" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  ) >&2 || {
    rm -rf "$module" "$dir/bin.new"
    echo "error: building the Pulumi CLI v$PULUMI_CLI_VERSION failed (above)" >&2
    return 1
  }
  rm -rf "$module" "$dir/bin"
  # Renamed into place only when complete, so an interrupted build is never taken for a finished one.
  mv "$dir/bin.new" "$dir/bin"
  echo "$dir/bin"
}
