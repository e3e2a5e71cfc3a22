package packetin

import (
	"context"
	"errors"
	"fmt"

	"antrea.io/libOpenflow/openflow15"

	"github.com/flowgate/flowgate/ovs/ofconn"
)

// ControllerMeter is OpenFlow's reserved meter for the packets the switch
// sends to controllers (OFPM_CONTROLLER): OVS applies it to every
// controller action's packet, before the packet-in is queued, so a flood
// of logged connections costs the switch one meter drop per packet and
// never reaches the agent.
const ControllerMeter = openflow15.M_CONTROLLER

// meterExists is OFPMMFC_METER_EXISTS (error type OFPET_METER_MOD_FAILED).
const (
	errMeterModFailed = 12
	errMeterExists    = 1
)

// SetControllerMeter installs (or changes) the controller meter: at most
// rate packets per second with bursts of burst packets; the rest are
// dropped in the switch and counted (ControllerMeterDrops).
func (c *Conn) SetControllerMeter(ctx context.Context, rate, burst uint32) error {
	mm := func(cmd uint16) *openflow15.MeterMod {
		m := openflow15.NewMeterMod()
		m.Command = cmd
		m.MeterId = ControllerMeter
		m.Flags = openflow15.MF_PKTPS | openflow15.MF_BURST | openflow15.MF_STATS
		band := openflow15.NewMeterBandDrop()
		band.Rate = rate
		band.BurstSize = burst
		m.AddMeterBand(band)
		return m
	}
	_, err := c.Do(ctx, mm(openflow15.MC_ADD))
	var ofe *ofconn.Error
	if errors.As(err, &ofe) && ofe.Type == errMeterModFailed && ofe.Code == errMeterExists {
		_, err = c.Do(ctx, mm(openflow15.MC_MODIFY))
	}
	if err != nil {
		return fmt.Errorf("set the controller meter to %d packets/s: %w", rate, err)
	}
	return nil
}

// MeterCounts are a meter's counters since it was installed.
type MeterCounts struct {
	// Packets is every packet that met the meter; Dropped those its drop
	// band dropped.
	Packets, Dropped uint64
}

// ControllerMeterCounts reads the controller meter's statistics.
func (c *Conn) ControllerMeterCounts(ctx context.Context) (MeterCounts, error) {
	req := openflow15.NewMpRequest(openflow15.MultipartType_MeterStats)
	req.Body = append(req.Body, openflow15.NewMeterMultipartRequest(ControllerMeter))
	reply, err := c.Do(ctx, req)
	if err != nil {
		return MeterCounts{}, fmt.Errorf("read the controller meter's statistics: %w", err)
	}
	mp, ok := reply.(*openflow15.MultipartReply)
	if !ok {
		return MeterCounts{}, fmt.Errorf("read the controller meter's statistics: no reply")
	}
	var out MeterCounts
	for _, b := range mp.Body {
		st, ok := b.(*openflow15.MeterStats)
		if !ok || st.MeterId != ControllerMeter {
			continue
		}
		out.Packets = st.PacketInCount
		for _, band := range st.BandStats {
			out.Dropped += band.PacketBandCount
		}
	}
	return out, nil
}
