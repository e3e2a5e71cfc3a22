package ovsdb

import (
	"context"
	"fmt"

	"github.com/ovn-org/libovsdb/model"
	libovsdb "github.com/ovn-org/libovsdb/ovsdb"
)

// BridgeExternalID is the value of one of the bridge's external_ids, from
// the client's cache, so that a tool can read what it recorded on the
// bridge (flowgate apply's record of the flows it verified) without
// changing anything.
func (c *Client) BridgeExternalID(bridgeName, key string) (string, bool) {
	br, ok := c.bridge(bridgeName)
	if !ok {
		return "", false
	}
	v, ok := br.ExternalIDs[key]
	return v, ok
}

// SetBridgeExternalID sets (or, with value "", removes) one of the
// bridge's external_ids in one transaction, leaving the others alone.
func (c *Client) SetBridgeExternalID(ctx context.Context, bridgeName, key, value string) error {
	br, ok := c.bridge(bridgeName)
	if !ok {
		return fmt.Errorf("set external_ids:%s: bridge %s does not exist", key, bridgeName)
	}
	muts := []model.Mutation{{Field: &br.ExternalIDs, Mutator: libovsdb.MutateOperationDelete, Value: []string{key}}}
	if value != "" {
		muts = append(muts, model.Mutation{Field: &br.ExternalIDs, Mutator: libovsdb.MutateOperationInsert, Value: map[string]string{key: value}})
	}
	ops, err := c.cli.Where(&br).Mutate(&br, muts...)
	if err != nil {
		return fmt.Errorf("set external_ids:%s on %s: build mutation: %w", key, bridgeName, err)
	}
	if _, err := c.transact(ctx, ops); err != nil {
		return fmt.Errorf("set external_ids:%s on %s: %w", key, bridgeName, err)
	}
	return nil
}
