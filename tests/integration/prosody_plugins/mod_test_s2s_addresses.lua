-- mod_test_s2s_addresses: test-only static addresses for s2s peers (Prosody 0.12.3).
--
-- Prosody 0.12.3 resolves s2s peers with its own DNS library, which ignores /etc/hosts
-- and gives up after a failed SRV query, and has no static mapping of its own (the
-- community module for that needs 0.12.4+). This wraps net.resolvers.service.new, which
-- mod_s2s calls for every outgoing connection, so that the configured domains go straight
-- to an address; every other domain is resolved as before.
--
--   plugin_paths = { "<repo>/tests/integration/prosody_plugins" }
--   modules_enabled = { ...; "test_s2s_addresses" }
--   test_s2s_addresses = { ["one.test"] = "127.0.0.2:5269" }   -- port 5269 if left out
--
-- Only xmpp-server (STARTTLS s2s) gets the address; the same domain's xmpps-server (direct
-- TLS) lookup gets no target, so nothing waits for a DNS server that is not there.
module:set_global();

local service = require "net.resolvers.service";
local manual = require "net.resolvers.manual";

local addresses = module:get_option("test_s2s_addresses", {});
local original_new = service.new;

local function parse(text)
	local ip, port = text:match("^([%d%.]+):(%d+)$");
	if ip then
		return ip, tonumber(port);
	end
	return text, 5269;
end

function service.new(hostname, service_name, conn_type, extra)
	local target = addresses[hostname];
	if not target then
		return original_new(hostname, service_name, conn_type, extra);
	end
	conn_type = conn_type or "tcp";
	if service_name ~= "xmpp-server" then
		return manual.new({}, conn_type, extra);
	end
	local ip, port = parse(target);
	module:log("debug", "s2s to %s: %s port %d (test_s2s_addresses)", hostname, ip, port);
	return manual.new({ { conn_type .. "4", ip, port, extra } }, conn_type, extra);
end

function module.unload()
	service.new = original_new;
end
