namespace Dragonfly.PubSub.Broker.Security;

/// <summary>Why <see cref="ApiAccessPolicy"/> refused a request: the HTTP status (401, 403 or 404) and one line.</summary>
public sealed record ApiRefusal(int Status, string Message);
