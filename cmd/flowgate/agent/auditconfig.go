package agent

import (
	"fmt"
	"time"

	"github.com/flowgate/flowgate/audit"
)

// AuditConfig is the agent configuration's `audit` section: the log of
// connections that Log rules (and, when asked, denials) record
// (deploy/config/agent.yaml documents every field).
type AuditConfig struct {
	// Enabled opens the agent's OpenFlow connection for logged packets.
	Enabled bool `json:"enabled"`
	// Destination is stdout, file or both.
	Destination string `json:"destination"`
	// File is the log file, rotated at MaxSizeMB keeping MaxBackups.
	File       string `json:"file"`
	MaxSizeMB  int    `json:"maxSizeMB"`
	MaxBackups int    `json:"maxBackups"`
	// RatePerSecond and Burst bound logged connections: the switch's
	// controller meter and the agent's own limit.
	RatePerSecond int `json:"ratePerSecond"`
	Burst         int `json:"burst"`
	// ReportInterval is how often connections not logged (over the rate)
	// are reported in the agent's log, when there were any.
	ReportInterval Duration `json:"reportInterval"`
	// LogDenied also logs the connections that policy denies
	// (compiler.Options.LogDenied): a Deny rule, a tier's default deny or
	// the endpoint's default deny. Off by default.
	LogDenied bool `json:"logDenied"`
	// LogDeniedTiers logs the connections the default deny of these
	// tiers refuses (compiler.Options.LogDeniedTiers), the rest unlogged
	// unless LogDenied. A policy logs its own denials with the annotation
	// policy.LogDeniedAnnotation. Empty by default.
	LogDeniedTiers []string `json:"logDeniedTiers"`
}

// dedupeWindow is how long the audit log takes repeats of a connection's
// first packet (a retransmitted SYN, a denied client retrying from the
// same port) to be the same connection.
const dedupeWindow = 10 * time.Second

func defaultAuditConfig() AuditConfig {
	return AuditConfig{
		Enabled:        true,
		Destination:    audit.DestinationStdout,
		File:           "/var/log/flowgate/audit.log",
		MaxSizeMB:      100,
		MaxBackups:     5,
		RatePerSecond:  100,
		Burst:          200,
		ReportInterval: Duration(time.Minute),
		LogDeniedTiers: []string{},
	}
}

// validate checks the section.
func (c AuditConfig) validate() error {
	if !audit.ValidDestination(c.Destination) {
		return fmt.Errorf("audit.destination %q: want stdout, file or both", c.Destination)
	}
	if c.Destination != audit.DestinationStdout && c.File == "" {
		return fmt.Errorf("audit.file: required for destination %s", c.Destination)
	}
	if c.MaxSizeMB <= 0 || c.MaxBackups < 0 {
		return fmt.Errorf("audit: maxSizeMB must be positive and maxBackups not negative")
	}
	if c.RatePerSecond <= 0 || c.Burst <= 0 {
		return fmt.Errorf("audit: ratePerSecond and burst must be positive")
	}
	for i, t := range c.LogDeniedTiers {
		if t == "" {
			return fmt.Errorf("audit.logDeniedTiers[%d]: empty tier name", i)
		}
	}
	return nil
}
