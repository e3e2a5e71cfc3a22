package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// podCIDRsPlaceholder is the value of ipam.ranges in a conflist template
// that install replaces with one range per pod CIDR of the node.
const podCIDRsPlaceholder = "__NODE_POD_CIDRS__"

// The in-cluster service account files.
const (
	saToken = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	saCA    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// runInstall is `flowgate-cni install`, the DaemonSet's init container: it
// copies flowgate-cni (and host-local, when it sits next to it) into the
// node's CNI binary directory and writes the network configuration, with
// the IPAM ranges taken from the node's spec.podCIDRs, which the API server
// knows and the downward API does not expose. Both are written atomically
// (temporary file, rename), so the runtime never reads half a file.
func runInstall(args []string) error {
	fs := flag.NewFlagSet("install", flag.ContinueOnError)
	binDir := fs.String("bin-dir", "/host/opt/cni/bin", "the node's CNI binary directory")
	confDir := fs.String("conf-dir", "/host/etc/cni/net.d", "the node's CNI configuration directory")
	template := fs.String("template", "/etc/flowgate-cni/10-flowgate.conflist", "conflist template; ipam.ranges \""+podCIDRsPlaceholder+"\" becomes the node's pod CIDRs")
	node := fs.String("node", os.Getenv("NODE_NAME"), "this node's name")
	podCIDRs := fs.String("pod-cidrs", "", "comma-separated pod CIDRs to use instead of asking the API server")
	server := fs.String("server", "", "API server URL (default: in-cluster)")
	tokenFile := fs.String("token-file", saToken, "bearer token file")
	caFile := fs.String("ca-file", saCA, "API server CA certificate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tmpl, err := os.ReadFile(*template)
	if err != nil {
		return fmt.Errorf("read template: %w", err)
	}
	var cidrs []string
	if *podCIDRs != "" {
		cidrs = strings.Split(*podCIDRs, ",")
	} else if strings.Contains(string(tmpl), podCIDRsPlaceholder) {
		if *node == "" {
			return errors.New("the node name is required (--node or NODE_NAME)")
		}
		if *server == "" {
			host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
			if host == "" || port == "" {
				return errors.New("not in a pod: give --server (or --pod-cidrs)")
			}
			*server = "https://" + net.JoinHostPort(host, port)
		}
		cidrs, err = nodePodCIDRs(*server, *tokenFile, *caFile, *node)
		if err != nil {
			return err
		}
	}
	conf, err := renderConflist(tmpl, cidrs)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	if err := installFile(self, filepath.Join(*binDir, "flowgate-cni"), 0o755); err != nil {
		return err
	}
	hostLocal := filepath.Join(filepath.Dir(self), "host-local")
	if _, err := os.Stat(hostLocal); err == nil {
		if err := installFile(hostLocal, filepath.Join(*binDir, "host-local"), 0o755); err != nil {
			return err
		}
	}
	dst := filepath.Join(*confDir, "10-flowgate.conflist")
	if err := writeAtomic(dst, conf, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "flowgate-cni: installed into %s, %s written (pod CIDRs %v)\n", *binDir, dst, cidrs)
	return nil
}

// renderConflist replaces the placeholder ranges of every plugin's ipam
// with one range set per CIDR (host-local's dual-stack form) and checks the
// result is a conflist.
func renderConflist(tmpl []byte, cidrs []string) ([]byte, error) {
	var list map[string]any
	if err := json.Unmarshal(tmpl, &list); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	plugins, ok := list["plugins"].([]any)
	if !ok || len(plugins) == 0 {
		return nil, errors.New("template: not a conflist (no plugins)")
	}
	var ranges []any
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if _, _, err := net.ParseCIDR(c); err != nil {
			return nil, fmt.Errorf("pod CIDR %q: %w", c, err)
		}
		ranges = append(ranges, []any{map[string]any{"subnet": c}})
	}
	for _, p := range plugins {
		pm, _ := p.(map[string]any)
		ipamConf, _ := pm["ipam"].(map[string]any)
		if ipamConf != nil && ipamConf["ranges"] == podCIDRsPlaceholder {
			if len(ranges) == 0 {
				return nil, errors.New("the node has no pod CIDR (spec.podCIDRs is empty: is the controller manager allocating node CIDRs?)")
			}
			ipamConf["ranges"] = ranges
		}
	}
	out, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// nodePodCIDRs reads spec.podCIDRs (or spec.podCIDR) of the node.
func nodePodCIDRs(server, tokenFile, caFile, node string) ([]string, error) {
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/api/v1/nodes/"+url.PathEscape(node), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get node %s: %w", node, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get node %s: %s: %s", node, resp.Status, trimOutput(body))
	}
	var n struct {
		Spec struct {
			PodCIDR  string   `json:"podCIDR"`
			PodCIDRs []string `json:"podCIDRs"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("node %s: %w", node, err)
	}
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs, nil
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}, nil
	}
	return nil, nil
}

func installFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	return writeAtomic(dst, data, mode)
}

// writeAtomic writes through a temporary file in the same directory and a
// rename: a running binary or a configuration being read is never torn.
func writeAtomic(dst string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dst), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("install %s: %w", dst, err)
	}
	return nil
}
