package kring

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/kring-project/kring/clients/go/kringv1"
)

// Batch is one batch sent on a Stream: what Send took, kept until its
// acknowledgement comes.
type Batch struct {
	RequestID uint64
	CaseID    string
	Expected  ExpectedVersion
	Events    []*kringv1.Event
}

// Ack is the acknowledgement of one batch on a Stream.
type Ack struct {
	// RequestID is the id Send returned for the batch.
	RequestID uint64
	// CaseID is the batch's case.
	CaseID string
	// Result is where the batch landed (already_recorded for a resent batch
	// that was stored before); nil when Err is set.
	Result *kringv1.AppendResult
	// Err is the refusal of this batch, with its details as for Append; nil
	// when the batch is stored. The stream goes on after a refused batch.
	Err *Error
}

// Stream sends many batches on one AppendStream call, with at most the
// client's stream window (default 32) unacknowledged. kringd acknowledges
// every batch, in the order sent, and keeps the stream open after a refused
// one.
//
// Read Acks while you Send, from another goroutine: once the window is full
// Send waits for acknowledgements, and kringd stops reading a stream whose
// acknowledgements are not read. One goroutine at a time may call Send.
//
//	s, _ := c.OpenStream(ctx)
//	go func() { for a := range s.Acks() { ... } }()
//	for _, b := range batches { s.Send(ctx, b.caseID, kring.Any(), b.events) }
//	s.CloseSend()  // then Acks is closed after the last acknowledgement
//
// When the stream breaks (Err() != nil after Acks is closed), the batches
// without an acknowledgement may or may not be stored: Pending() returns
// them, and sending them again (on a new stream, or with Append) is safe.
type Stream struct {
	call   grpc.BidiStreamingClient[kringv1.AppendRequest, kringv1.AppendAck]
	cancel context.CancelFunc
	window chan struct{} // a token per unacknowledged batch
	acks   chan Ack
	done   chan struct{} // closed when the call has ended

	sendMu sync.Mutex // one Send (and CloseSend) at a time on the call
	mu     sync.Mutex
	nextID uint64
	sent   map[uint64]Batch // sent, not acknowledged
	err    *Error
}

// OpenStream starts an AppendStream call. Cancelling ctx (or Close) ends it.
func (c *Client) OpenStream(ctx context.Context) (*Stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	call, err := c.ingest.AppendStream(ctx)
	if err != nil {
		cancel()
		return nil, errorFromCall(err)
	}
	s := &Stream{
		call:   call,
		cancel: cancel,
		window: make(chan struct{}, c.opts.window),
		acks:   make(chan Ack, c.opts.window),
		done:   make(chan struct{}),
		sent:   make(map[uint64]Batch),
	}
	go s.receive()
	return s, nil
}

// Send sends one batch and returns its request id (1, 2, ... on this
// stream), which its Ack carries. Events without an event_id get a random
// UUID first. It waits while the window is full. An error means the batch
// was not sent: ctx ended, the stream is closed, or the stream broke (then
// read Acks to its end and see Err and Pending).
func (s *Stream) Send(ctx context.Context, caseID string, expected ExpectedVersion, events []*kringv1.Event) (uint64, error) {
	req, err := newAppendRequest(caseID, expected, events)
	if err != nil {
		return 0, err
	}
	select {
	case s.window <- struct{}{}:
	case <-ctx.Done():
		return 0, errorFromCall(ctx.Err())
	case <-s.done:
		return 0, s.endedError()
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	s.nextID++
	req.RequestId = s.nextID
	s.sent[req.RequestId] = Batch{RequestID: req.RequestId, CaseID: caseID, Expected: expected, Events: events}
	s.mu.Unlock()
	if err := s.call.Send(req); err != nil {
		s.mu.Lock()
		delete(s.sent, req.RequestId)
		s.mu.Unlock()
		<-s.window
		if errors.Is(err, io.EOF) {
			return 0, s.endedError()
		}
		return 0, errorFromCall(err)
	}
	return req.RequestId, nil
}

// CloseSend says that no more batches come. kringd acknowledges every batch
// it has read, then ends the call; Acks is closed after the last
// acknowledgement.
func (s *Stream) CloseSend() error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.call.CloseSend()
}

// Acks delivers one Ack per batch, in the order kringd sends them (the order
// of the requests), and is closed when the call ends.
func (s *Stream) Acks() <-chan Ack { return s.acks }

// Err is how the call ended, once Acks is closed: nil after CloseSend and
// every acknowledgement, else an *Error (e.g. UNAVAILABLE when the server
// shut down). Before the end it returns nil.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return nil
	}
	return s.err
}

// Pending returns the batches sent without an acknowledgement, in the order
// sent. After a broken stream, send them again: a batch that was stored
// comes back already_recorded.
func (s *Stream) Pending() []Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Batch, 0, len(s.sent))
	for _, b := range s.sent {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Batch) int {
		switch {
		case a.RequestID < b.RequestID:
			return -1
		case a.RequestID > b.RequestID:
			return 1
		}
		return 0
	})
	return out
}

// Close ends the call at once (CANCELLED): batches without an
// acknowledgement may or may not be stored (Pending).
func (s *Stream) Close() { s.cancel() }

func (s *Stream) endedError() *Error {
	<-s.done
	if err := s.Err(); err != nil {
		return err.(*Error)
	}
	return &Error{Code: codes.FailedPrecondition, Message: "stream: already ended (CloseSend was called)"}
}

// receive reads the acknowledgements until the call ends.
func (s *Stream) receive() {
	defer s.cancel()
	for {
		ack, err := s.call.Recv()
		if err != nil {
			s.mu.Lock()
			if !errors.Is(err, io.EOF) {
				s.err = errorFromCall(err)
			} else if len(s.sent) > 0 {
				// The server ended the call with OK although batches were
				// not acknowledged: report it rather than lose them quietly.
				s.err = &Error{Code: codes.Unavailable, Message: "stream: ended with batches unacknowledged; send Pending() again"}
			}
			s.mu.Unlock()
			close(s.done)
			close(s.acks)
			return
		}
		a := Ack{RequestID: ack.GetRequestId()}
		s.mu.Lock()
		if b, ok := s.sent[a.RequestID]; ok {
			a.CaseID = b.CaseID
			delete(s.sent, a.RequestID)
			<-s.window
		}
		s.mu.Unlock()
		if ack.GetCode() == 0 {
			a.Result = ack.GetResult()
		} else {
			a.Err = errorFromAck(ack.GetCode(), ack.GetMessage(), ack.GetDetails())
		}
		s.acks <- a
	}
}
