package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/flowgate/flowgate/translator/decode"
)

// readAgentObjects fetches what the agent at addr (its health address)
// enforces and decodes it.
func readAgentObjects(ctx context.Context, addr string) ([]decode.Object, []error) {
	url := "http://" + addr + "/objects"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, []error{fmt.Errorf("agent %s: %w", addr, err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, []error{fmt.Errorf("read what the agent enforces (is it running, with healthAddress %s? or give --before): %w", addr, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, []error{fmt.Errorf("agent %s: %w", url, err)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, []error{fmt.Errorf("agent %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))}
	}
	if !json.Valid(body) {
		return nil, []error{fmt.Errorf("agent %s: not JSON", url)}
	}
	return decode.Decode(url, body)
}
