using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>&lt;data-dir&gt;/agent.json, written once the agent serves: how dfagent status, dfpub, dfget and tests find it.</summary>
internal sealed record AgentReadyFile(int Pid, string PeerId, int PeerPort, int HttpPort, int ProxyPort, string? Socket, bool Tls);

/// <summary>Source-generated JSON for the agent's own files (the published dfagent is Native AOT: no reflection-based JSON).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(AgentReadyFile))]
internal sealed partial class AgentFilesJsonContext : JsonSerializerContext;
