package issuer

import (
	"errors"

	"github.com/airlock-license/airlock/internal/kv"
)

// Errors a caller or a test must tell apart. Refusals of a request or a
// receipt also match format's sentinels where the wire is the reason.
var (
	ErrNoDesk          = kv.ErrNoStore      // the desk directory does not exist: run issuer init
	ErrLocked          = kv.ErrLocked       // another process holds the desk
	ErrDiskFull        = kv.ErrDiskFull     // too little free space to write safely
	ErrDamaged         = kv.ErrStoreDamaged // the ledger cannot be read
	ErrNotInitialised  = errors.New("no vendor key: run issuer init")
	ErrAlreadyInit     = errors.New("desk already has a vendor key")
	ErrWrongPassphrase = errors.New("wrong passphrase")

	ErrUnknownProductKey = errors.New("unknown product key")
	ErrProductKeyExpired = errors.New("product key expired")
	ErrProductKeyRevoked = errors.New("product key revoked")
	ErrWrongProduct      = errors.New("product key is for another product")
	ErrWrongVersion      = errors.New("product key is for another major version")
	ErrActivationLimit   = errors.New("no activations left on this product key")
	ErrUnknownLicense    = errors.New("unknown licence")
	ErrLicenseRevoked    = errors.New("licence revoked")
	ErrLicenseEnded      = errors.New("licence deactivated or replaced")
	ErrTooManyRevoked    = errors.New("revocation list full")
	ErrReceiptMismatch   = errors.New("receipt does not match the licence")
	ErrWeakBinding       = errors.New("request binds weakly to its machine")
	ErrTransferLimit     = errors.New("product key reinstalled too often")
	ErrClockAhead        = errors.New("request signed in the future of the desk's clock")
)

// refusal reads as one line and matches its sentinel (and the cause's).
type refusal struct {
	sentinel, cause error
	msg             string
}

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == r.sentinel }
func (r *refusal) Unwrap() error        { return r.cause }

func refuse(sentinel error, msg string) error { return &refusal{sentinel: sentinel, msg: msg} }

func refuseCause(sentinel, cause error, msg string) error {
	return &refusal{sentinel: sentinel, cause: cause, msg: msg}
}
