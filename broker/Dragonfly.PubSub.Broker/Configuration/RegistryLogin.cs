namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>A user name and password for a container registry. <see cref="ToString"/> never shows the password.</summary>
public sealed record RegistryLogin(string Username, string Password)
{
    public override string ToString() => $"{Username} (password hidden)";
}
