package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits follow dd(1): K, M, G, T and KiB, MiB, GiB, TiB are powers of
// 1024; KB, MB, GB, TB are powers of 1000. Case does not matter.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// parseSize reads a byte count such as 4096, 64MiB, 1G or 1.5GB.
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f*float64(mult) > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size (examples: 4096, 64MiB, 1G)", s)
	}
	return int64(f * float64(mult)), nil
}

// sizeFlag is a flag holding a byte count of at least 1, written as
// parseSize reads it; 0 means the flag was not given.
type sizeFlag int64

func (s *sizeFlag) String() string {
	if *s == 0 {
		return ""
	}
	return strconv.FormatInt(int64(*s), 10)
}

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("must be at least 1 byte")
	}
	*s = sizeFlag(n)
	return nil
}

func (s *sizeFlag) Type() string { return "SIZE" }

// humanBytes writes n with a binary unit.
func humanBytes(n uint64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/1024, 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, units[i])
}

// flagSize writes n as a SIZE flag takes it, so that it can be given back:
// in the largest binary unit that holds it whole (64KiB), else with one
// decimal, rounded down (dir < 0) or up (dir > 0) so that the text is
// still on the same side of a limit, else (dir == 0) as a byte count.
func flagSize(n int64, dir int) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	i, div := 0, int64(1024)
	for i < len(units)-1 && n/div >= 1024 {
		i, div = i+1, div*1024
	}
	switch {
	case n%div == 0:
		return fmt.Sprintf("%d%ciB", n/div, units[i])
	case dir == 0:
		return strconv.FormatInt(n, 10)
	}
	tenths := float64(n) * 10 / float64(div)
	if dir < 0 {
		tenths = math.Floor(tenths)
	} else {
		tenths = math.Ceil(tenths)
	}
	if math.Mod(tenths, 10) == 0 {
		return strconv.FormatFloat(tenths/10, 'f', 0, 64) + string(units[i]) + "iB"
	}
	return strconv.FormatFloat(tenths/10, 'f', 1, 64) + string(units[i]) + "iB"
}
