package activator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// Seats counts connected clients against the licence's client limit, for
// every process of the product on this host together: seat n is an OS
// lock on byte n of the file seats-<product> in the store directory. The
// operating system releases a process's locks when it ends, however it
// ends, so a crashed server's seats come back at once; no daemon is
// involved. Two instances of the product on one store therefore admit
// the licensed number of clients in total, not each.
//
// Acquire tries the seats in turn: a full server costs one lock attempt
// per seat for every refused client (BenchmarkSeatsFull: 1.4 ms for 1,000
// seats on a 2-core VM), a free seat one attempt per seat taken before it.
type Seats struct {
	lic *License

	mu     sync.Mutex
	file   *seatFile     // opened on first use
	mine   map[int]*Seat // the seats this Seats holds
	closed bool          // the licence was closed: no more seats
}

// Seat is one acquired client seat.
type Seat struct {
	ClientID string // as given to Acquire, for the product's own records
	// Number is the seat's number on this host, from 1.
	Number   int
	seats    *Seats
	released atomic.Bool
}

// seatFile is the seat file of one store and product, shared by every
// Seats of the process: some platforms' locks belong to the process, not
// to a descriptor, and closing any descriptor of the file would drop them
// all, so there is one descriptor, and the process's own seats are
// recorded here.
type seatFile struct {
	path string // the file, through the store directory's real path
	f    *os.File
	refs int
	held map[int]bool
}

var (
	seatFilesMu sync.Mutex
	seatFiles   = map[string]*seatFile{}
)

func openSeatFile(dir, product string) (*seatFile, error) {
	// One file, one descriptor, however the directory is named (a
	// symlink, a relative path): on platforms whose locks belong to the
	// process, a second descriptor would share them.
	real, err := filepath.Abs(dir)
	if err == nil {
		real, err = filepath.EvalSymlinks(real)
	}
	if err != nil {
		return nil, err
	}
	path := filepath.Join(real, "seats-"+product)
	seatFilesMu.Lock()
	defer seatFilesMu.Unlock()
	if sf := seatFiles[path]; sf != nil {
		sf.refs++
		return sf, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	sf := &seatFile{path: path, f: f, refs: 1, held: map[int]bool{}}
	seatFiles[path] = sf
	return sf, nil
}

func (sf *seatFile) close() {
	seatFilesMu.Lock()
	defer seatFilesMu.Unlock()
	if sf.refs--; sf.refs == 0 {
		sf.f.Close() // releases every lock of this process on the file
		delete(seatFiles, sf.path)
	}
}

// Acquire takes a seat for clientID, or fails with ErrSeatLimit when all
// are taken on this host, or ErrNotActive without a licence. Each call
// takes one seat, even for a clientID that holds one already (a reconnect
// before the old connection is released).
func (s *Seats) Acquire(clientID string) (*Seat, error) {
	snap := s.lic.snap.Load()
	if !snap.Active() {
		return nil, refuse(ErrNotActive, "no active licence; no client may connect")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, refuse(ErrNotActive, "the licence was closed; no client may connect")
	}
	if s.file == nil {
		sf, err := openSeatFile(s.lic.cfg.Dir, s.lic.cfg.Product)
		if err != nil {
			return nil, fmt.Errorf("client seats cannot be counted (%v); the store directory must be writable by the product's service account", err)
		}
		s.file = sf
	}
	seatFilesMu.Lock()
	defer seatFilesMu.Unlock()
	for n := 0; n < snap.Clients; n++ {
		if s.file.held[n] {
			continue
		}
		ok, err := lockSeat(s.file.f, int64(n))
		if err != nil {
			return nil, fmt.Errorf("client seats cannot be counted: lock %s: %v", s.file.path, err)
		}
		if ok {
			s.file.held[n] = true
			if s.mine == nil {
				s.mine = map[int]*Seat{}
			}
			seat := &Seat{ClientID: clientID, Number: n + 1, seats: s}
			s.mine[n] = seat
			return seat, nil
		}
	}
	return nil, refuse(ErrSeatLimit, fmt.Sprintf("all %d client seats are in use on this host (by every process of the product)", snap.Clients))
}

// InUse returns the number of seats this process holds through s.
func (s *Seats) InUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mine)
}

// Release returns the seat; releasing twice is harmless.
func (t *Seat) Release() {
	if t.released.Swap(true) {
		return
	}
	s := t.seats
	s.mu.Lock()
	defer s.mu.Unlock()
	n := t.Number - 1
	if s.mine[n] != t {
		return // the licence was closed, and its seats with it
	}
	delete(s.mine, n)
	if s.file == nil {
		return // the licence was closed, and its seats with it
	}
	seatFilesMu.Lock()
	defer seatFilesMu.Unlock()
	if err := unlockSeat(s.file.f, int64(n)); err != nil && !errors.Is(err, os.ErrClosed) {
		s.lic.cfg.logger().Warn("releasing a client seat failed", "seat", t.Number, "err", err)
	}
	delete(s.file.held, n)
}

// close releases the seat file (License.Close). Seats still held are
// released with it.
func (s *Seats) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.file != nil {
		seatFilesMu.Lock()
		for n := range s.mine {
			unlockSeat(s.file.f, int64(n))
			delete(s.file.held, n)
		}
		clear(s.mine)
		seatFilesMu.Unlock()
		s.file.close()
		s.file = nil
	}
}
