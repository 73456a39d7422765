package kring

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how Append and ReadCaseHead send a call again after an
// error that may pass (Error.Retryable: UNAVAILABLE, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED but not a batch over a limit). Every attempt sends the
// same request, so a retried append reuses its event ids.
type RetryPolicy struct {
	// MaxAttempts is how many times a call is sent at most; 1 means no
	// retries.
	// Default: 5.
	MaxAttempts int
	// InitialBackoff is the wait before the first retry; each further retry
	// waits twice as long, up to MaxBackoff. The wait is drawn at random
	// between half of that and all of it (jitter), so that many clients do
	// not retry in step.
	// Default: 200 ms.
	InitialBackoff time.Duration
	// MaxBackoff caps the wait between two attempts.
	// Default: 5 s.
	MaxBackoff time.Duration
	// AttemptTimeout bounds each attempt (within the caller's context), so a
	// call that hangs is retried as DEADLINE_EXCEEDED; 0 means only the
	// caller's context bounds it.
	// Default: 30 s.
	AttemptTimeout time.Duration
	// OnRetry, when set, is called before each wait with the attempt that
	// failed (1, 2, ...), its error and the wait, e.g. to log it.
	// Default: nil.
	OnRetry func(attempt int, err *Error, wait time.Duration)
}

// DefaultRetryPolicy is the policy a Client uses unless WithRetry says
// otherwise: 5 attempts, 200 ms doubling to at most 5 s, 30 s per attempt.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 5, InitialBackoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second,
		AttemptTimeout: 30 * time.Second}
}

func (p RetryPolicy) check() error {
	switch {
	case p.MaxAttempts < 1:
		return fmt.Errorf("kring: retry: MaxAttempts must be at least 1, got %d", p.MaxAttempts)
	case p.InitialBackoff < 0 || p.MaxBackoff < 0 || p.AttemptTimeout < 0:
		return errors.New("kring: retry: durations must not be negative")
	case p.MaxBackoff < p.InitialBackoff:
		return errors.New("kring: retry: MaxBackoff must be at least InitialBackoff")
	}
	return nil
}

// backoff is the wait after the failed attempt n (1, 2, ...): a random
// duration in [b/2, b], b = min(MaxBackoff, InitialBackoff * 2^(n-1)).
func (p RetryPolicy) backoff(n int) time.Duration {
	b := p.InitialBackoff
	for i := 1; i < n && b < p.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, p.MaxBackoff)
	if b <= 0 {
		return 0
	}
	return b/2 + rand.N(b/2+1)
}

// do runs call until it succeeds, fails with an error that is not
// retryable, runs out of attempts or ctx ends. Its error is an *Error.
func (p RetryPolicy) do(ctx context.Context, call func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := p.attempt(ctx, call)
		if err == nil {
			return nil
		}
		kerr := errorFromCall(err)
		kerr.Attempts = attempt
		if !kerr.Retryable() || attempt >= p.MaxAttempts || ctx.Err() != nil {
			return kerr
		}
		wait := p.backoff(attempt)
		if p.OnRetry != nil {
			p.OnRetry(attempt, kerr, wait)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return kerr
		case <-timer.C:
		}
	}
}

func (p RetryPolicy) attempt(ctx context.Context, call func(context.Context) error) error {
	if p.AttemptTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.AttemptTimeout)
		defer cancel()
	}
	return call(ctx)
}
