// Command image builds flowgate's container image without Docker: an OCI
// image layout directory (and optionally a `docker load` tarball) holding
// the static flowgate and flowgate-cni binaries, host-local, and the Open
// vSwitch command-line tools the agent runs (ovs-ofctl, ovs-appctl,
// ovs-vsctl) with exactly the shared libraries they load on the build
// host. `make image` runs it; deploy/kubernetes/README.md says what the
// DaemonSet expects in the image.
//
// Two layers: the OVS tools with their libraries (which change with the
// build host's packages), then flowgate's own binaries (which change with
// every commit). Entries are sorted, owned by root and dated
// SOURCE_DATE_EPOCH, so the same inputs give the same digests.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/urfave/cli/v2"
)

func main() {
	app := &cli.App{
		Name:  "image",
		Usage: "build flowgate's container image as an OCI image layout (no Docker needed)",
		Description: `Binaries are taken as built (make image builds them static); the Open vSwitch
tools and their shared libraries are copied from this machine, so build on
the distribution the image should carry (Debian: openvswitch-common).

  go run ./deploy/image --flowgate bin/flowgate --flowgate-cni bin/flowgate-cni \
     --host-local bin/host-local --oci dist/image --tar dist/flowgate-image.tar

Load the result with "skopeo copy oci:dist/image docker://REGISTRY/flowgate:TAG",
"docker load -i dist/flowgate-image.tar" or "ctr images import dist/flowgate-image.tar".`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "flowgate", Required: true, Usage: "the flowgate binary (installed as /usr/local/bin/flowgate)"},
			&cli.StringFlag{Name: "flowgate-cni", Required: true, Usage: "the flowgate-cni binary (/opt/cni/bin/flowgate-cni)"},
			&cli.StringFlag{Name: "host-local", Required: true, Usage: "the host-local IPAM plugin (/opt/cni/bin/host-local)"},
			&cli.StringSliceFlag{Name: "ovs-tool", Value: cli.NewStringSlice("ovs-ofctl", "ovs-appctl", "ovs-vsctl"), Usage: "Open vSwitch programs to copy from this machine, with their libraries"},
			&cli.StringFlag{Name: "oci", Required: true, Usage: "OCI image layout directory to write (replaced if it already holds one)"},
			&cli.StringFlag{Name: "tar", Usage: "also write a tarball for docker load / ctr images import"},
			&cli.StringFlag{Name: "tag", Value: "ghcr.io/flowgate/flowgate:latest", Usage: "image reference recorded in the layout (org.opencontainers.image.ref.name) and the tarball"},
			&cli.StringFlag{Name: "source-date-epoch", EnvVars: []string{"SOURCE_DATE_EPOCH"}, Value: "0", Usage: "Unix time of every file and of the image's creation"},
		},
		Action: build,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func build(c *cli.Context) error {
	secs, err := strconv.ParseInt(c.String("source-date-epoch"), 10, 64)
	if err != nil {
		return fmt.Errorf("--source-date-epoch: %w", err)
	}
	mtime := time.Unix(secs, 0).UTC()
	ref, err := name.ParseReference(c.String("tag"))
	if err != nil {
		return fmt.Errorf("--tag: %w", err)
	}

	system, own := tree{}, tree{}
	system.dir("/tmp", 0o777|os.ModeSticky)
	system.dir("/etc/flowgate", 0o755)
	system.dir("/var/run/openvswitch", 0o755)
	bins := map[string]string{
		"/usr/local/bin/flowgate":   c.String("flowgate"),
		"/opt/cni/bin/flowgate-cni": c.String("flowgate-cni"),
		"/opt/cni/bin/host-local":   c.String("host-local"),
	}
	for dst, src := range bins {
		fi, err := os.Stat(src)
		if err != nil {
			return err
		}
		if fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is not executable", src)
		}
		own.file(dst, src, 0o755)
	}
	progs := []string{c.String("flowgate"), c.String("flowgate-cni"), c.String("host-local")}
	for _, t := range c.StringSlice("ovs-tool") {
		p, err := lookBin(t)
		if err != nil {
			return err
		}
		if err := system.addHost(p); err != nil {
			return err
		}
		progs = append(progs, p)
	}
	for _, p := range progs {
		libs, err := sharedLibs(p)
		if err != nil {
			return err
		}
		for _, l := range libs {
			if err := system.addHost(l); err != nil {
				return err
			}
		}
	}

	// OCI media types throughout (go-containerregistry's empty image is
	// Docker's schema 2); runtimes and registries take both.
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, l := range []struct {
		t       tree
		comment string
	}{{system, "Open vSwitch tools and their shared libraries"}, {own, "flowgate, flowgate-cni, host-local"}} {
		data, err := l.t.tarball(mtime)
		if err != nil {
			return err
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
			tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return fmt.Errorf("layer (%s): %w", l.comment, err)
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{Created: v1.Time{Time: mtime}, CreatedBy: "deploy/image", Comment: l.comment}})
		if err != nil {
			return fmt.Errorf("append layer (%s): %w", l.comment, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Entrypoint = []string{"/usr/local/bin/flowgate"}
	cf.Config.Cmd = []string{"agent", "--config", "/etc/flowgate/agent.yaml"}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "flowgate",
		"org.opencontainers.image.description": "Open vSwitch flow programmer for Calico and Kubernetes NetworkPolicy",
		"org.opencontainers.image.ref.name":    ref.Identifier(),
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	if img, err = mutate.CreatedAt(img, v1.Time{Time: mtime}); err != nil {
		return err
	}

	dir := c.String("oci")
	if err := clearLayout(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref.Name()})); err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if t := c.String("tar"); t != "" {
		if err := tarball.WriteToFile(t, ref, img); err != nil {
			return fmt.Errorf("tarball %s: %w", t, err)
		}
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s (%s)\n", ref.Name(), digest, strings.Join(append([]string{dir}, nonEmpty(c.String("tar"))...), ", "))
	return nil
}

// clearLayout makes room for a new layout: dir must not exist, be empty,
// or hold an OCI layout (oci-layout file), which is removed.
func clearLayout(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(entries) == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return fmt.Errorf("--oci %s: not empty and not an OCI layout; refusing to replace it", dir)
	}
	return os.RemoveAll(dir)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
