package container

import (
	"testing"
	"time"
)

func TestParseNetDev(t *testing.T) {
	dev := `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:    5120      40    0    0    0     0          0         0      916       9    0    0    0     0       0          0
`
	rx, tx := parseNetDev([]byte(dev))
	if rx != 5120 || tx != 916 {
		t.Errorf("parseNetDev = %d, %d; want 5120, 916 (eth0 only)", rx, tx)
	}
}

func TestCPUPercent(t *testing.T) {
	t0 := time.Unix(100, 0)
	prev := Sample{Running: true, At: t0, CPU: time.Second}
	cur := Sample{Running: true, At: t0.Add(2 * time.Second), CPU: 4 * time.Second}
	if got := cur.CPUPercent(prev); got != 150 {
		t.Errorf("3 s of CPU in 2 s = %v%%, want 150%% (Docker's: per CPU, summed)", got)
	}
	cur.Running = false
	if got := cur.CPUPercent(prev); got != 0 {
		t.Errorf("a stopped container's CPU = %v%%, want 0", got)
	}
}
