package integration

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/flowgate/flowgate/ovs/sandbox/sandboxtest"
)

// ociDescriptor is the part of an OCI descriptor the test reads.
type ociDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// TestImage builds the container image with deploy/image (what `make
// image` runs) from the binaries the other tests use, reads the OCI
// layout back with nothing but the standard library (digests checked,
// layers unpacked in order into a root directory), checks the docker-load
// tarball holds the same image, and runs the image's programs with chroot:
// every binary starts, and the image's flowgate programs a private Open
// vSwitch through the image's own ovs-ofctl and ovs-appctl (the OVS run
// directory bind-mounted in, in a private mount namespace).
func TestImage(t *testing.T) {
	sandboxtest.Require(t)
	cni, err := cniBinDir()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	layoutDir, tarPath := filepath.Join(out, "oci"), filepath.Join(out, "image.tar")
	build := exec.Command("go", "run", "./deploy/image", "--flowgate", flowgateBin,
		"--flowgate-cni", filepath.Join(cni, "flowgate-cni"), "--host-local", filepath.Join(cni, "host-local"),
		"--oci", layoutDir, "--tar", tarPath, "--tag", "example.com/flowgate:test")
	build.Dir = ".."
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("deploy/image: %v\n%s", err, b)
	}

	blob := func(d ociDescriptor) []byte {
		t.Helper()
		hexd, ok := strings.CutPrefix(d.Digest, "sha256:")
		if !ok {
			t.Fatalf("digest %q", d.Digest)
		}
		data, err := os.ReadFile(filepath.Join(layoutDir, "blobs", "sha256", hexd))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != hexd || int64(len(data)) != d.Size {
			t.Fatalf("blob %s: content does not match its digest/size", d.Digest)
		}
		return data
	}
	var index struct{ Manifests []ociDescriptor }
	readJSON(t, readFile(t, filepath.Join(layoutDir, "index.json")), &index)
	if len(index.Manifests) != 1 || index.Manifests[0].MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("index: %+v", index)
	}
	var manifest struct {
		Config ociDescriptor
		Layers []ociDescriptor
	}
	readJSON(t, blob(index.Manifests[0]), &manifest)
	var config struct {
		OS, Architecture string
		Config           struct{ Entrypoint, Cmd []string }
	}
	readJSON(t, blob(manifest.Config), &config)
	if config.OS != "linux" || strings.Join(config.Config.Entrypoint, " ") != "/usr/local/bin/flowgate" ||
		strings.Join(config.Config.Cmd, " ") != "agent --config /etc/flowgate/agent.yaml" {
		t.Errorf("image config: %+v", config)
	}
	root := filepath.Join(out, "root")
	for _, l := range manifest.Layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			t.Fatalf("layer media type %s", l.MediaType)
		}
		untarGzip(t, blob(l), root)
	}
	// The docker-load tarball carries the same config (hence the same image).
	if got := dockerArchiveConfig(t, tarPath); got != strings.TrimPrefix(manifest.Config.Digest, "sha256:") {
		t.Errorf("tarball config %s, OCI layout config %s", got, manifest.Config.Digest)
	}

	chroot := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command("chroot", append([]string{root}, args...)...)
		cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, env...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"/usr/local/bin/flowgate", "version"}, "flowgate "},
		{nil, []string{"ovs-ofctl", "--version"}, "Open vSwitch"},
		{nil, []string{"ovs-appctl", "--version"}, "Open vSwitch"},
		{nil, []string{"ovs-vsctl", "--version"}, "Open vSwitch"},
		{[]string{"CNI_COMMAND=VERSION"}, []string{"/opt/cni/bin/flowgate-cni"}, `"supportedVersions"`},
		{[]string{"CNI_COMMAND=VERSION"}, []string{"/opt/cni/bin/host-local"}, `"supportedVersions"`},
	} {
		if got := chroot(c.env, c.args...); !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", strings.Join(c.args, " "), got, c.want)
		}
	}

	// The image's flowgate and Open vSwitch tools against a real bridge.
	o := sandboxtest.New(t)
	if err := o.AddBridge("br-int"); err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(root, "etc", "flowgate", "policy")
	os.MkdirAll(policy, 0o755)
	os.WriteFile(filepath.Join(policy, "host.yaml"), []byte(`apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node-1, labels: {role: hypervisor}}
spec: {interfaceName: "*", expectedIPs: [192.168.77.10]}
---
`+denyAllHosts), 0o644)
	os.MkdirAll(filepath.Join(root, o.Dir), 0o755)
	// /dev and /proc are what a container runtime provides besides the
	// image; the OVS run directory is what the DaemonSet mounts.
	for _, d := range []string{"dev", "proc"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	script := `set -e
mount --rbind /dev "$ROOT/dev"
mount -t proc proc "$ROOT/proc"
mount --bind "$OVS_DIR" "$ROOT$OVS_DIR"
exec chroot "$ROOT" /usr/local/bin/flowgate apply --bridge br-int --ovsdb "unix:$OVS_DIR/db.sock" --datapath-type netdev -f /etc/flowgate/policy`
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	cmd.Env = append(append([]string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}, o.Env()...), "OVS_DIR="+o.Dir, "ROOT="+root)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("flowgate apply in the image: %v\n%s", err, b)
	}
	flows, err := o.Ofctl("dump-flows", "br-int")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"in_port=LOCAL", "ct(commit", "reg0=0xfffe,tp_dst=2379"} {
		if !strings.Contains(flows, want) {
			t.Errorf("flows installed from the image lack %q:\n%s", want, firstLinesOf(flows, 20))
		}
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v: %s", err, firstLinesOf(string(data), 5))
	}
}

// untarGzip unpacks a gzipped layer into root (directories, regular files
// and symlinks: all an image layer built by deploy/image has).
func untarGzip(t *testing.T, data []byte, root string) {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, os.FileMode(h.Mode).Perm())
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()); err == nil {
				_, err = io.Copy(f, tr)
				f.Close()
			}
		default:
			err = fmt.Errorf("unexpected entry type %c", h.Typeflag)
		}
		if err != nil {
			t.Fatalf("layer entry %s: %v", h.Name, err)
		}
	}
}

// dockerArchiveConfig returns the config digest (hex) a `docker save`
// style tarball's manifest.json names.
func dockerArchiveConfig(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no manifest.json in %s: %v", path, err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ Config string }
		b, _ := io.ReadAll(tr)
		readJSON(t, b, &m)
		if len(m) != 1 {
			t.Fatalf("manifest.json: %s", b)
		}
		return strings.TrimSuffix(strings.TrimPrefix(m[0].Config, "sha256:"), ".json")
	}
}
