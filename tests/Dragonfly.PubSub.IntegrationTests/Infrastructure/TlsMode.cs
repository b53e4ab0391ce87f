namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// Whether the suite runs secure (the product's default: a broker with its fleet CA, agents that
/// enrol with a join token) or with <c>--insecure</c> on every process: <c>DFIT_INSECURE=1</c>
/// runs the whole suite in plain text.
/// </summary>
public static class TlsMode
{
    public const string Variable = "DFIT_INSECURE";

    public static bool Insecure => Environment.GetEnvironmentVariable(Variable) is "1" or "true";

    /// <summary>"http" or "https": the broker's API scheme in this mode.</summary>
    public static string HttpScheme => Insecure ? "http" : "https";
}
