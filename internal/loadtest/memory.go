package loadtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Memory is the resident memory of this process, in bytes.
type Memory struct {
	RSS  int64 // resident now (VmRSS)
	Peak int64 // the most ever resident (VmHWM)
}

// ReadMemory reads this process's resident memory from
// /proc/self/status. It fails where there is no /proc (not Linux).
func ReadMemory() (Memory, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return Memory{}, fmt.Errorf("loadtest: resident memory: %w", err)
	}
	return parseStatus(b)
}

// parseStatus reads VmRSS and VmHWM, in kB, from the text of a
// /proc/PID/status file.
func parseStatus(b []byte) (Memory, error) {
	var m Memory
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.Peak
		default:
			continue
		}
		f := bytes.Fields(val)
		if len(f) != 2 || string(f[1]) != "kB" {
			return Memory{}, fmt.Errorf("loadtest: resident memory: cannot read %q", sc.Text())
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("loadtest: resident memory: cannot read %q", sc.Text())
		}
		*dst = kb << 10
		seen++
	}
	if seen != 2 {
		return Memory{}, errors.New("loadtest: resident memory: no VmRSS and VmHWM in /proc/self/status")
	}
	return m, nil
}

// WatchMemory reads this process's resident memory now and every interval
// until the function it returns is called, which returns the most it read
// (0 where it cannot be read). Unlike Memory.Peak, it counts only from
// now: what the process used before, say to load data, is not the
// figure's.
func WatchMemory(every time.Duration) (stop func() int64) {
	done := make(chan struct{})
	var most int64
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if m, err := ReadMemory(); err == nil && m.RSS > most {
				most = m.RSS
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 { close(done); <-finished; return most }
}
