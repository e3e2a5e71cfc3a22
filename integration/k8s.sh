#!/usr/bin/env bash
# integration/k8s.sh - a real etcd + kube-apiserver + kubectl for flowgate's
# Kubernetes tests, built from Go modules through the module proxy (no Docker,
# no internet) and run on loopback.
#
#   integration/k8s.sh build              build the binaries unless cached (~5 min the first time)
#   integration/k8s.sh up   [WORK_DIR]    build if needed, start etcd + kube-apiserver, wait for /readyz
#   integration/k8s.sh down [WORK_DIR] [--purge]   stop what `up` started (by recorded PIDs)
#   integration/k8s.sh bin                print the directory holding the cached binaries
#
# WORK_DIR (default integration/.k8s, ignored by git) receives kubeconfig,
# env.sh (source it: KUBECONFIG, PATH with the matching kubectl), pki/,
# etcd-data/, logs/ and *.pid. The Go tests (integration/k8s_test.go) call
# `up` and `down` themselves when FLOWGATE_K8S_KUBECONFIG is not set.
#
# Environment (all optional):
#   FLOWGATE_K8S_VERSION   Kubernetes version to build                  (1.34.2)
#   FLOWGATE_K8S_CACHE     binary cache (${XDG_CACHE_HOME:-$HOME/.cache}/flowgate-k8s)
#   FLOWGATE_K8S_ETCD_PORT, FLOWGATE_K8S_ETCD_PEER_PORT, FLOWGATE_K8S_API_PORT
#                          loopback ports                    (22379, 22380, 26443)
#   FLOWGATE_K8S_KEEP_GOCACHE=1  keep the dedicated build cache (~2.5 GB)
#   FLOWGATE_K8S_APISERVER_ARGS  extra kube-apiserver flags (word-split)
#
# Why a scratch module: k8s.io/kubernetes cannot be `go install`ed (its go.mod
# replaces the 31 staging modules with ./staging/...), so the build writes a
# module requiring k8s.io/kubernetes and mapping every staging module to its
# published v0.X.Y. etcd's server is built in the same module at the version
# Kubernetes pins, reusing the packages already compiled.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=${FLOWGATE_K8S_VERSION:-1.34.2}
K8S_VERSION=${K8S_VERSION#v}
CACHE=${FLOWGATE_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flowgate-k8s}
ETCD_PORT=${FLOWGATE_K8S_ETCD_PORT:-22379}
ETCD_PEER_PORT=${FLOWGATE_K8S_ETCD_PEER_PORT:-22380}
API_PORT=${FLOWGATE_K8S_API_PORT:-26443}
BIN=$CACHE/v$K8S_VERSION/bin
MODDIR=$CACHE/v$K8S_VERSION/mod

log() { printf '[k8s %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- build ----
missing_pkgs() { # main packages whose binaries are missing or of another version
  if ! "$BIN/kube-apiserver" --version 2>/dev/null | grep -qx "Kubernetes v$K8S_VERSION"; then
    rm -f "$BIN"/kube-apiserver "$BIN"/kubectl
  fi
  [ -x "$BIN/kube-apiserver" ] || echo k8s.io/kubernetes/cmd/kube-apiserver
  [ -x "$BIN/kubectl" ] || echo k8s.io/kubernetes/cmd/kubectl
  [ -x "$BIN/etcd" ] || echo go.etcd.io/etcd/server/v3
}

build() {
  command -v go >/dev/null || die "go not found"
  mkdir -p "$CACHE"
  local pkgs
  mapfile -t pkgs < <(missing_pkgs)
  if [ ${#pkgs[@]} = 0 ]; then
    log "binaries cached in $BIN"
    return 0
  fi
  # Two builds into one cache must not race: the second waits for the first.
  exec 9>"$CACHE/.build.lock"
  flock 9
  mapfile -t pkgs < <(missing_pkgs)
  [ ${#pkgs[@]} -gt 0 ] || return 0
  local t0=$SECONDS minor k8smod etcdver ldf p k8spkgs=() etcd=0 gocache
  for p in "${pkgs[@]}"; do
    case $p in go.etcd.io/*) etcd=1 ;; *) k8spkgs+=("$p") ;; esac
  done
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  gocache=$CACHE/gocache
  mkdir -p "$MODDIR" "$BIN"
  export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOCACHE=$gocache GOWORK=off GOTOOLCHAIN=local
  log "building ${pkgs[*]} (Kubernetes v$K8S_VERSION) into $BIN: about 5 minutes on 2 cores"
  printf 'module flowgate.local/k8s-tools\n\ngo 1.24.0\n' > "$MODDIR/go.mod"
  rm -f "$MODDIR/go.sum"
  (cd "$MODDIR" && go mod download "k8s.io/kubernetes@v$K8S_VERSION")
  k8smod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod
  [ -f "$k8smod" ] || die "k8s.io/kubernetes v$K8S_VERSION is not in the module cache"
  etcdver=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$k8smod")
  [ -n "$etcdver" ] || die "cannot find the etcd server version in $k8smod"
  {
    printf 'module flowgate.local/k8s-tools\n\ngo 1.24.0\n\ngodebug default=go1.24\n\n'
    printf 'require (\n\tk8s.io/kubernetes v%s\n\tgo.etcd.io/etcd/server/v3 %s\n)\n\nreplace (\n' "$K8S_VERSION" "$etcdver"
    sed -n "s#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#	\1 => \1 v0.$minor.${K8S_VERSION##*.}#p" "$k8smod"
    printf ')\n'
  } > "$MODDIR/go.mod"
  ldf="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf="$ldf -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldf="$ldf -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  (
    cd "$MODDIR"
    if [ ${#k8spkgs[@]} -gt 0 ]; then go build -trimpath -ldflags "$ldf" -o "$BIN/" "${k8spkgs[@]}"; fi
    if [ $etcd = 1 ]; then go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3; fi
  )
  [ "${FLOWGATE_K8S_KEEP_GOCACHE:-0}" = 1 ] || rm -rf "$gocache"
  log "built in $((SECONDS - t0))s: $("$BIN/kube-apiserver" --version)"
}

# ------------------------------------------------------------- up/down ----
pid_alive() { # pidfile, string its cmdline must contain
  local pid
  [ -f "$1" ] && pid=$(cat "$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

stop_one() { # work dir, name: SIGTERM the recorded pid if it is ours, then SIGKILL
  local f=$1/$2.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if pid_alive "$f" "$1"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    log "stopped $2 (pid $pid)"
  fi
  rm -f "$f"
}

up() {
  local work=$1
  for c in openssl curl; do command -v "$c" >/dev/null || die "$c not found"; done
  build
  mkdir -p "$work"
  work=$(cd "$work" && pwd)
  cd "$work"
  readyz() { curl -fsS --max-time 5 --cacert pki/ca.crt "https://127.0.0.1:$API_PORT/readyz" 2>/dev/null | grep -qx ok; }
  if pid_alive etcd.pid "$work/etcd-data" && pid_alive kube-apiserver.pid "$work/pki" && readyz; then
    log "already running in $work"
    return 0
  fi
  stop_one "$work" kube-apiserver
  stop_one "$work" etcd
  mkdir -p pki logs
  if [ ! -f pki/ca.crt ] || [ ! -f pki/apiserver.crt ] || [ ! -f pki/sa.key ] || [ ! -f pki/tokens.csv ]; then
    (
      cd pki && umask 077
      openssl genrsa -out ca.key 2048 2>/dev/null
      openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=flowgate-test-ca" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
      openssl genrsa -out apiserver.key 2048 2>/dev/null
      openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr
      printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" \
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1" \
        > apiserver.ext
      openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
        -extfile apiserver.ext -out apiserver.crt 2>/dev/null
      openssl genrsa -out sa.key 2048 2>/dev/null
      openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
      # admin bypasses RBAC (system:masters); the agent's ServiceAccount
      # token is not available without a controller manager, so RBAC is
      # exercised with a static user bound like the DaemonSet's account.
      printf '%s,admin,admin,"system:masters"\n%s,flowgate-agent,flowgate-agent\n' \
        "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" > tokens.csv
      chmod 644 ca.crt apiserver.crt sa.pub
    )
  fi
  local p
  for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$API_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      die "127.0.0.1:$p is in use (set FLOWGATE_K8S_ETCD_PORT / _ETCD_PEER_PORT / _API_PORT)"
    fi
  done
  local t0=$SECONDS
  nohup "$BIN/etcd" --name flowgate-test --data-dir "$work/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "flowgate-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes 8589934592 --log-level warn \
    > logs/etcd.log 2>&1 < /dev/null &
  echo $! > etcd.pid
  local i
  for i in $(seq 1 150); do
    kill -0 "$(cat etcd.pid)" 2>/dev/null || { tail -20 logs/etcd.log >&2; die "etcd exited"; }
    curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"' && break
    [ "$i" -lt 150 ] || { tail -20 logs/etcd.log >&2; die "etcd not healthy after 30s"; }
    sleep 0.2
  done
  local extra=()
  read -r -a extra <<< "${FLOWGATE_K8S_APISERVER_ARGS:-}"
  # ServiceAccount admission is off: without kube-controller-manager no
  # "default" ServiceAccount exists and that plugin would reject every pod.
  nohup "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --cert-dir "$work/pki" \
    --tls-cert-file "$work/pki/apiserver.crt" --tls-private-key-file "$work/pki/apiserver.key" \
    --token-auth-file "$work/pki/tokens.csv" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$work/pki/sa.pub" \
    --service-account-signing-key-file "$work/pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --authorization-mode RBAC --allow-privileged=true --profiling=false \
    --disable-admission-plugins ServiceAccount \
    "${extra[@]}" \
    > logs/kube-apiserver.log 2>&1 < /dev/null &
  echo $! > kube-apiserver.pid
  local ca admin agent
  ca=$(base64 -w0 < pki/ca.crt)
  admin=$(awk -F, '$2=="admin"{print $1}' pki/tokens.csv)
  agent=$(awk -F, '$2=="flowgate-agent"{print $1}' pki/tokens.csv)
  for u in admin:$admin:kubeconfig agent:$agent:agent.kubeconfig; do
    IFS=: read -r user token file <<< "$u"
    (umask 077; cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: flowgate-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $ca
users:
- name: $user
  user:
    token: $token
contexts:
- name: flowgate-test
  context: {cluster: flowgate-test, user: $user}
current-context: flowgate-test
EOF
    )
  done
  cat > env.sh <<EOF
export KUBECONFIG=$work/kubeconfig
export PATH=$BIN:\$PATH
EOF
  local deadline=$((SECONDS + 180))
  until readyz; do
    kill -0 "$(cat kube-apiserver.pid)" 2>/dev/null || { tail -30 logs/kube-apiserver.log >&2; die "kube-apiserver exited"; }
    [ $SECONDS -lt $deadline ] || { tail -30 logs/kube-apiserver.log >&2; die "kube-apiserver not ready after 180s"; }
    sleep 0.25
  done
  log "kube-apiserver ready on https://127.0.0.1:$API_PORT after $((SECONDS - t0))s (work dir $work)"
}

down() {
  local work=$1 purge=$2
  [ -d "$work" ] || return 0
  work=$(cd "$work" && pwd)
  stop_one "$work" kube-apiserver
  stop_one "$work" etcd
  if [ "$purge" = 1 ]; then rm -rf "$work"; log "removed $work"; fi
}

cmd=${1:-}
shift || true
work=$HERE/.k8s
purge=0
for a in "$@"; do
  case $a in
    --purge) purge=1 ;;
    *) work=$a ;;
  esac
done
case $cmd in
  build) build ;;
  up) up "$work" ;;
  down) down "$work" "$purge" ;;
  bin) echo "$BIN" ;;
  *) echo "usage: $0 build | up [WORK_DIR] | down [WORK_DIR] [--purge] | bin" >&2; exit 2 ;;
esac
