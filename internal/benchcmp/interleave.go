//go:build linux

package main

import (
	"fmt"
	"slices"
	"time"
)

// A step is one measured action; prepare, when set, runs untimed before
// each timed run (to put the store back into the state being measured).
type step struct {
	name    string
	prepare func() error
	run     func() error
}

// interleave runs the steps round-robin for rounds rounds (A, B, A, B,
// ...; each round starts with the next step, so that neither side always
// runs right after the other's cache warming) and returns each step's
// durations, sorted. The first round is a warm-up and is not kept.
func interleave(rounds int, steps ...step) ([][]time.Duration, error) {
	out := make([][]time.Duration, len(steps))
	for r := -1; r < rounds; r++ {
		for k := range steps {
			s := steps[(max(r, 0)+k)%len(steps)]
			i := slices.IndexFunc(steps, func(x step) bool { return x.name == s.name })
			if s.prepare != nil {
				if err := s.prepare(); err != nil {
					return nil, fmt.Errorf("%s: prepare: %v", s.name, err)
				}
			}
			start := time.Now()
			if err := s.run(); err != nil {
				return nil, fmt.Errorf("%s: %v", s.name, err)
			}
			if r >= 0 {
				out[i] = append(out[i], time.Since(start))
			}
		}
	}
	for _, d := range out {
		slices.Sort(d)
	}
	return out, nil
}

func median(d []time.Duration) time.Duration { return d[len(d)/2] }

// quartiles returns the 25th and 75th percentiles, for the spread.
func quartiles(d []time.Duration) (time.Duration, time.Duration) {
	return d[len(d)/4], d[(3*len(d))/4]
}

// ms prints a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// report is the table benchcmp prints.
type report struct {
	rows   [][]string
	missed int
}

// time adds a row comparing two medians: ratio is ours/theirs (a time:
// lower is better) when atMost is set, theirs/ours ("times faster")
// otherwise.
func (r *report) time(what string, ours, theirs []time.Duration, target float64, atMost bool) {
	mo, mt := median(ours), median(theirs)
	lo, hi := quartiles(ours)
	spread := fmt.Sprintf("%s (%s–%s)", ms(mo), ms(lo), ms(hi))
	var ratio float64
	var ratioText, targetText string
	if atMost {
		ratio = float64(mo) / float64(mt)
		ratioText, targetText = fmt.Sprintf("%.2fx the time", ratio), fmt.Sprintf("<= %.1fx", target)
	} else {
		ratio = float64(mt) / float64(mo)
		ratioText, targetText = fmt.Sprintf("%.1fx faster", ratio), fmt.Sprintf(">= %.0fx", target)
	}
	ok := ratio <= target
	if !atMost {
		ok = ratio >= target
	}
	r.add(what, spread, ms(mt), ratioText, targetText, ok)
}

func (r *report) add(what, ours, theirs, ratio, target string, ok bool) {
	verdict := "met"
	if !ok {
		verdict = "MISSED"
		r.missed++
	}
	if target == "" {
		verdict = ""
	}
	r.rows = append(r.rows, []string{what, ours, theirs, ratio, target, verdict})
	fmt.Printf("  %s: %s vs %s, %s (%s) %s\n", what, ours, theirs, ratio, target, verdict)
}

func (r *report) print() {
	fmt.Println()
	fmt.Println("| measure | airlock, median (quartiles) | comparison, median | ratio | target | |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, row := range r.rows {
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", row[0], row[1], row[2], row[3], row[4], row[5])
	}
}
