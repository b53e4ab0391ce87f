namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// Whether the suite runs secure (the product's default) or with <c>--insecure</c> on every
/// process: <c>DFIT_INSECURE=1</c> runs the whole suite in plain text.
/// </summary>
public static class TlsMode
{
    public const string Variable = "DFIT_INSECURE";

    /// <summary>
    /// True for <c>DFIT_INSECURE=1</c>. Until the broker of this branch speaks TLS every run is
    /// insecure (the agents' secure default is covered by unit tests meanwhile).
    /// </summary>
    public static bool Insecure => true || Environment.GetEnvironmentVariable(Variable) is "1" or "true";
}
