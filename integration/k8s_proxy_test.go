package integration

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// apiProxy stands between the agent and the API server (a TCP relay; TLS
// passes through untouched), so a test can take the API server away from
// the agent alone — as a network partition or an API server outage does —
// while kubectl keeps changing the cluster behind the agent's back.
type apiProxy struct {
	ln      net.Listener
	backend string
	// Kubeconfig is the agent's kubeconfig with the proxy as its server.
	Kubeconfig string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// startAPIProxy relays a free loopback port to the cluster's API server
// until the test ends.
func startAPIProxy(t *testing.T, c *k8sCluster) *apiProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := c.server(t)
	p := &apiProxy{ln: ln, backend: strings.TrimPrefix(server, "https://"), conns: map[net.Conn]struct{}{}}
	kc, err := os.ReadFile(c.AgentKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(kc), server) {
		t.Fatalf("agent kubeconfig does not name %s", server)
	}
	p.Kubeconfig = filepath.Join(t.TempDir(), "agent-proxied.kubeconfig")
	proxied := strings.ReplaceAll(string(kc), server, "https://"+ln.Addr().String())
	if err := os.WriteFile(p.Kubeconfig, []byte(proxied), 0o600); err != nil {
		t.Fatal(err)
	}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

// serve accepts clients; while cut, it closes them at once.
func (p *apiProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			client.Close()
			continue
		}
		p.mu.Unlock()
		go p.relay(client)
	}
}

// relay copies bytes both ways between client and the API server.
func (p *apiProxy) relay(client net.Conn) {
	server, err := net.Dial("tcp", p.backend)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) { io.Copy(dst, src); done <- struct{}{} }
	go pipe(server, client)
	go pipe(client, server)
	<-done
	client.Close()
	server.Close()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// Cut closes every relayed connection and refuses new ones.
func (p *apiProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore relays again.
func (p *apiProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}
