package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
)

func TestPresets(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name             string
		cfg              client.Config
		timeout          time.Duration
		keepalive        time.Duration
		keepaliveTimeout time.Duration
		recovery         bool
	}{
		{"Laptop", client.Laptop(), 5 * time.Second, 10 * time.Second, time.Second, false},
		{"InRegion", client.InRegion(), 1100 * time.Millisecond, 10 * time.Second, time.Second, false},
		{"Lambda", client.Lambda(), 1100 * time.Millisecond, 0, 0, true},
	}
	for _, tc := range cases {
		c := tc.cfg
		if c.Timeout != tc.timeout || c.KeepaliveTime != tc.keepalive || c.KeepaliveTimeout != tc.keepaliveTimeout || c.Recovery != tc.recovery {
			t.Errorf("%s() = timeout %v, keepalive %v/%v, recovery %v; want %v, %v/%v, %v", tc.name,
				c.Timeout, c.KeepaliveTime, c.KeepaliveTimeout, c.Recovery, tc.timeout, tc.keepalive, tc.keepaliveTimeout, tc.recovery)
		}
		if tc.keepalive > 0 && !c.KeepalivePermitWithoutCalls {
			t.Errorf("%s().KeepalivePermitWithoutCalls = false; want true", tc.name)
		}
		if c.MaxAttempts != 3 || c.RecoveryIdleThreshold != client.DefaultRecoveryIdleThreshold ||
			c.ProbeTimeout != client.DefaultProbeTimeout || c.MaxIdle != client.DefaultMaxIdle {
			t.Errorf("%s() = attempts %d, threshold %v, probe %v, max idle %v; want the defaults", tc.name,
				c.MaxAttempts, c.RecoveryIdleThreshold, c.ProbeTimeout, c.MaxIdle)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s().Validate() = %v", tc.name, err)
		}
	}
	// Presets are fresh values: editing one does not change the next.
	a := client.Lambda()
	a.Timeout = time.Hour
	if client.Lambda().Timeout == time.Hour {
		t.Error("editing a Lambda() Config changed the next Lambda()")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*client.Config)
		ok   bool
	}{
		{"keepalive off", func(c *client.Config) { c.KeepaliveTime = 0 }, true},
		{"keepalive off ignores its timeout", func(c *client.Config) { c.KeepaliveTime, c.KeepaliveTimeout = 0, 0 }, true},
		{"keepalive at the minimum", func(c *client.Config) { c.KeepaliveTime = 10 * time.Second }, true},
		{"keepalive 5s like the Node SDK", func(c *client.Config) { c.KeepaliveTime = 5 * time.Second }, false},
		{"keepalive 9.999s", func(c *client.Config) { c.KeepaliveTime = 10*time.Second - time.Millisecond }, false},
		{"keepalive negative", func(c *client.Config) { c.KeepaliveTime = -time.Second }, false},
		{"keepalive without timeout", func(c *client.Config) { c.KeepaliveTimeout = 0 }, false},
		{"zero timeout", func(c *client.Config) { c.Timeout = 0 }, false},
		{"zero control timeout", func(c *client.Config) { c.ControlTimeout = 0 }, false},
		{"zero attempts", func(c *client.Config) { c.MaxAttempts = 0 }, false},
		{"zero default TTL", func(c *client.Config) { c.DefaultTTL = 0 }, false},
		{"zero message size", func(c *client.Config) { c.MaxMessageSize = 0 }, false},
		{"negative max idle", func(c *client.Config) { c.MaxIdle = -1 }, false},
		{"recovery on", func(c *client.Config) { c.Recovery = true }, true},
		{"recovery without threshold", func(c *client.Config) { c.Recovery, c.RecoveryIdleThreshold = true, 0 }, false},
		{"recovery without probe timeout", func(c *client.Config) { c.Recovery, c.ProbeTimeout = true, 0 }, false},
		{"probe as long as the call", func(c *client.Config) { c.Recovery, c.ProbeTimeout = true, c.Timeout }, false},
		{"max idle below threshold", func(c *client.Config) { c.Recovery, c.MaxIdle = true, time.Second }, false},
		{"recovery off ignores its settings", func(c *client.Config) { c.Recovery, c.ProbeTimeout, c.RecoveryIdleThreshold = false, 0, 0 }, true},
	}
	for _, tc := range cases {
		cfg := client.Laptop()
		tc.edit(&cfg)
		err := cfg.Validate()
		if tc.ok && err != nil {
			t.Errorf("Validate(%s) = %v; want nil", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("Validate(%s) = %v; want ErrInvalidArgument", tc.name, err)
		}
	}
	var zero client.Config
	if err := zero.Validate(); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("Validate(zero Config) = %v; want ErrInvalidArgument", err)
	}
}

func TestAuto(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		recovery bool // Lambda() has recovery on and keepalive off
	}{
		{"outside Lambda", map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "", "AWS_LAMBDA_RUNTIME_API": ""}, false},
		{"function name", map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "orders", "AWS_LAMBDA_RUNTIME_API": ""}, true},
		{"runtime API", map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "", "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			got := client.Auto()
			want := client.Laptop()
			if tc.recovery {
				want = client.Lambda()
			}
			if got != want {
				t.Errorf("Auto() = %+v; want %+v", got, want)
			}
		})
	}
}
