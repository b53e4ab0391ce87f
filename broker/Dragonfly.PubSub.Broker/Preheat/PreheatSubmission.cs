namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>The accepted job, or the HTTP status and one-line error of a refused request.</summary>
public sealed record PreheatSubmission(PreheatJob? Job, int Status, string? Error)
{
    public static PreheatSubmission Accepted(PreheatJob job) => new(job, 202, null);

    public static PreheatSubmission Refused(int status, string error) => new(null, status, error);
}
