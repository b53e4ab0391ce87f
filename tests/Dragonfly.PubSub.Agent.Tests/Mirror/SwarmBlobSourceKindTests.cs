using Dragonfly.PubSub.Agent.Mirror;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Registry.Client;
using Grpc.Core;

namespace Dragonfly.PubSub.Agent.Tests.Mirror;

/// <summary>
/// The registry mirror answers a blob that failed in the swarm with the distribution error its kind
/// means; the kind travels as data (the error line is free text for people).
/// </summary>
public class SwarmBlobSourceKindTests
{
    [Theory]
    [InlineData(TaskErrorKind.NotFound, RegistryErrorKind.NotFound)]
    [InlineData(TaskErrorKind.AccessDenied, RegistryErrorKind.Unauthorized)]
    [InlineData(TaskErrorKind.DigestMismatch, RegistryErrorKind.DigestMismatch)]
    [InlineData(TaskErrorKind.Rejected, RegistryErrorKind.BadResponse)]
    [InlineData(TaskErrorKind.SourceChanged, RegistryErrorKind.BadResponse)]
    [InlineData(TaskErrorKind.Unavailable, RegistryErrorKind.Unavailable)]
    [InlineData(TaskErrorKind.Other, RegistryErrorKind.Unavailable)]
    public void AFailedDownload_MapsByItsKind(TaskErrorKind kind, RegistryErrorKind expected)
    {
        Assert.Equal(expected, SwarmBlobSource.FromTaskError(kind));
    }

    [Fact]
    public void ARefusedRegistration_NamedAccessDeniedInTheTrailer_IsUnauthorized_WhateverItsWords()
    {
        var refused = Refusal(StatusCode.FailedPrecondition, "the origin said no", TaskErrorKind.AccessDenied);

        Assert.Equal(RegistryErrorKind.Unauthorized, SwarmBlobSource.FromRegistration(refused));
    }

    [Fact]
    public void ARefusedRegistration_WithoutAKind_IsABadResponse_EvenIfItsWordsSayAccessDenied()
    {
        var refused = Refusal(StatusCode.FailedPrecondition, "access denied by origin (401)", kind: null);

        Assert.Equal(RegistryErrorKind.BadResponse, SwarmBlobSource.FromRegistration(refused));
    }

    [Theory]
    [InlineData(StatusCode.NotFound, RegistryErrorKind.NotFound)]
    [InlineData(StatusCode.PermissionDenied, RegistryErrorKind.Denied)]
    [InlineData(StatusCode.InvalidArgument, RegistryErrorKind.BadResponse)]
    [InlineData(StatusCode.Unavailable, RegistryErrorKind.Unavailable)]
    public void ARefusedRegistration_OtherwiseMapsByItsStatus(StatusCode status, RegistryErrorKind expected)
    {
        Assert.Equal(expected, SwarmBlobSource.FromRegistration(Refusal(status, "no", kind: null)));
    }

    [Fact]
    public void ErrorKindOf_WithoutATrailer_TakesNotFoundFromTheStatus_AndNothingElse()
    {
        Assert.Equal(TaskErrorKind.NotFound, SchedulerSession.ErrorKindOf(new RpcException(new Status(StatusCode.NotFound, "gone"))));
        Assert.Equal(TaskErrorKind.Other, SchedulerSession.ErrorKindOf(new RpcException(new Status(StatusCode.FailedPrecondition, "access denied by origin (401)"))));
        Assert.Equal(TaskErrorKind.Other, SchedulerSession.ErrorKindOf(null));
    }

    private static UserFacingException Refusal(StatusCode status, string detail, TaskErrorKind? kind)
    {
        var trailers = new Metadata();
        if (kind is { } k)
        {
            trailers.Add(TaskErrorKinds.TrailerKey, TaskErrorKinds.Name(k));
        }
        return new UserFacingException(detail, ExitCodes.Failed, new RpcException(new Status(status, detail), trailers));
    }
}
