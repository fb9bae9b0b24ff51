// Builds the usage record of this request and posts it to Aforo's POST /v1/ingest.
// Runs in the PostClientFlow, the first point where client.sent.end.timestamp is set.
// Aforo's Apigee adapter (shared/src/adapters/apigee.rs) reads exactly these keys.

// Flow variables arrive as Java values, and unset ones as null.
function textOrNull(name) {
  var value = context.getVariable(name);
  return value === null || value === undefined ? null : String(value);
}

function numberOrNull(name) {
  var text = textOrNull(name);
  return text === null || text === '' ? null : Number(text);
}

var record = {
  messageid: textOrNull('messageid'),
  verb: textOrNull('request.verb'),
  pathsuffix: textOrNull('proxy.pathsuffix'),
  // Apigee splits header values at commas, and values.string keeps all of them.
  // A request that names several tenants is then rejected, not billed to the first.
  tenant_id: textOrNull('request.header.X-Tenant-Id.values.string'),
  status_code: numberOrNull('response.status.code'),
  content_length: textOrNull('response.header.Content-Length'),
  client_received_start_timestamp: numberOrNull('client.received.start.timestamp'),
  client_sent_end_timestamp: numberOrNull('client.sent.end.timestamp')
};

var headers = {
  'Content-Type': 'application/json',
  'Authorization': 'Bearer ' + context.getVariable('private.aforo.ingest_key')
};

// The exchange is not awaited because the client already has its response.
// Aforo deduplicates by messageid if the record is ever sent again.
httpClient.send(new Request(
  context.getVariable('propertyset.aforo.ingest_url'),
  'POST',
  headers,
  JSON.stringify(record)
));
