package sqlschema

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/latchkey/latchkey"
)

// The columns allowed_ips and recent_ips hold JSON text, written and read
// here for both stores; NULL is none.

// EncodePrefixes is the stored form of a token's networks: a JSON array of
// CIDRs, or nil (NULL) for none.
func EncodePrefixes(ps []netip.Prefix) *string {
	if len(ps) == 0 {
		return nil
	}
	list := make([]string, len(ps))
	for i, p := range ps {
		list[i] = p.String()
	}
	b, _ := json.Marshal(list) // strings always encode
	s := string(b)
	return &s
}

// DecodePrefixes reads what EncodePrefixes wrote; "" is none.
func DecodePrefixes(s string) ([]netip.Prefix, error) {
	if s == "" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("allowed_ips: %w", err)
	}
	out := make([]netip.Prefix, len(list))
	for i, v := range list {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, fmt.Errorf("allowed_ips: %w", err)
		}
		out[i] = p
	}
	return out, nil
}

// recentAddr is one element of recent_ips.
type recentAddr struct {
	IP    string `json:"ip"`
	First string `json:"first_seen"`
	Last  string `json:"last_seen"`
}

// recentLayout is how recent_ips writes times: UTC, microseconds.
const recentLayout = "2006-01-02T15:04:05.000000Z"

// EncodeRecent is the stored form of a token's recent addresses, or nil
// (NULL) for none.
func EncodeRecent(us []latchkey.AddrUse) *string {
	if len(us) == 0 {
		return nil
	}
	list := make([]recentAddr, len(us))
	for i, u := range us {
		list[i] = recentAddr{IP: u.Address, First: u.FirstSeen.UTC().Format(recentLayout), Last: u.LastSeen.UTC().Format(recentLayout)}
	}
	b, _ := json.Marshal(list) // strings always encode
	s := string(b)
	return &s
}

// DecodeRecent reads what EncodeRecent wrote; "" is none.
func DecodeRecent(s string) ([]latchkey.AddrUse, error) {
	if s == "" {
		return nil, nil
	}
	var list []recentAddr
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("recent_ips: %w", err)
	}
	out := make([]latchkey.AddrUse, len(list))
	for i, r := range list {
		first, err := time.Parse(recentLayout, r.First)
		if err != nil {
			return nil, fmt.Errorf("recent_ips: %w", err)
		}
		last, err := time.Parse(recentLayout, r.Last)
		if err != nil {
			return nil, fmt.Errorf("recent_ips: %w", err)
		}
		out[i] = latchkey.AddrUse{Address: r.IP, FirstSeen: first, LastSeen: last}
	}
	return out, nil
}
