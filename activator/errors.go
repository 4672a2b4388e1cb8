package activator

import (
	"errors"

	"github.com/airlock-license/airlock/internal/fsaccess"
	"github.com/airlock-license/airlock/internal/kv"
)

// StoreAccessError reports a store that this process may not read or
// write (a permission denied, a read-only filesystem), with what to do.
type StoreAccessError = fsaccess.Error

// Errors a caller or a test must tell apart. A refusal of an artifact also
// matches the format package's sentinel where the wire is the reason
// (format.ErrBadSignature, format.ErrWrongKind, ...).
var (
	// ErrNoStore: the store directory does not exist yet.
	ErrNoStore = kv.ErrNoStore
	// ErrLocked: another process holds the store; see [LockedError].
	ErrLocked = kv.ErrLocked
	// ErrDiskFull: too little free space to write safely.
	ErrDiskFull = kv.ErrDiskFull
	// ErrStoreDamaged: the store cannot be read.
	ErrStoreDamaged = kv.ErrStoreDamaged
	// ErrStoreAccess: this process may not read or write the store, or
	// its filesystem is read-only; the store is not damaged. See
	// [StoreAccessError].
	ErrStoreAccess = fsaccess.ErrAccess

	// ErrNotRequested: a response that answers no pending request of this
	// store (another host's, or one already imported and deactivated).
	ErrNotRequested = errors.New("response answers no request of this host")
	// ErrWrongHostKey: a response bound to another host key.
	ErrWrongHostKey = errors.New("response is for another host key")
	// ErrWrongProduct: a response for another product.
	ErrWrongProduct = errors.New("response is for another product")
	// ErrVersionNotLicensed: the product's major version is not licensed.
	ErrVersionNotLicensed = errors.New("product version not licensed")
	// ErrExpired: the licence's validity has ended.
	ErrExpired = errors.New("licence expired")
	// ErrNotYetValid: the licence's validity has not begun.
	ErrNotYetValid = errors.New("licence not yet valid")
	// ErrClockBehind: an artifact signed in the future of this host's
	// trusted time (beyond the skew); it wraps format.ErrClockBehind.
	ErrClockBehind = errors.New("signed in the future of this host's clock")
	// ErrBackdated: a response signed before the request it answers.
	ErrBackdated = errors.New("response predates its request")
	// ErrDowngrade: a licence that grants less than the one in force
	// (imported only with ImportOptions.Replace), or that answers an older
	// request and grants nothing more.
	ErrDowngrade = errors.New("grants less than the licence in force")
	// ErrReplaced: a licence that another licence replaced on this host;
	// it never comes back.
	ErrReplaced = errors.New("licence was replaced")
	// ErrDeactivated: a licence deactivated on this host; it never
	// comes back.
	ErrDeactivated = errors.New("licence was deactivated")
	// ErrRevoked: a licence the vendor revoked.
	ErrRevoked = errors.New("licence revoked")
	// ErrStaleRevocations: a revocation list not newer than the one held.
	ErrStaleRevocations = errors.New("revocation list is not newer")
	// ErrNotActive: no active licence (deactivate, seats).
	ErrNotActive = errors.New("no active licence")
	// ErrSeatLimit: every client seat is taken.
	ErrSeatLimit = errors.New("client limit reached")
	// ErrNeedsRoot: a request made by a user who may not read some of the
	// machine's identifiers (RequestOptions.Unprivileged).
	ErrNeedsRoot = errors.New("request needs root")
	// ErrProductKey: a mistyped product key, refused before anything is
	// written; it wraps format.ErrProductKey.
	ErrProductKey = errors.New("invalid product key")
)

// refusal is an error that reads as one line and matches a sentinel (and,
// through cause, a format sentinel where there is one).
type refusal struct {
	sentinel error
	cause    error
	msg      string
}

func (r *refusal) Error() string { return r.msg }

func (r *refusal) Is(target error) bool { return target == r.sentinel }

func (r *refusal) Unwrap() error { return r.cause }

func refuse(sentinel error, msg string) error { return &refusal{sentinel: sentinel, msg: msg} }

func refuseCause(sentinel, cause error, msg string) error {
	return &refusal{sentinel: sentinel, cause: cause, msg: msg}
}
