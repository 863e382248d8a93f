import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Value;
import com.google.rpc.ErrorInfo;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import stackmesh.common.v1.Chat.ChatMessage;
import stackmesh.inference.v1.InferenceServiceGrpc;
import stackmesh.inference.v1.InferenceServiceGrpc.InferenceServiceBlockingStub;
import stackmesh.inference.v1.InferenceServiceOuterClass.ChatCompletion;
import stackmesh.inference.v1.InferenceServiceOuterClass.ChatCompletionChoice;
import stackmesh.inference.v1.InferenceServiceOuterClass.ChatCompletionChunk;
import stackmesh.inference.v1.InferenceServiceOuterClass.ChatCompletionChunkChoice;
import stackmesh.inference.v1.InferenceServiceOuterClass.CreateChatCompletionRequest;
import stackmesh.inference.v1.InferenceServiceOuterClass.ListModelsRequest;
import stackmesh.inference.v1.InferenceServiceOuterClass.ListModelsResponse;
import stackmesh.inference.v1.InferenceServiceOuterClass.StreamOptions;
import stackmesh.inference.v1.InferenceServiceOuterClass.Usage;
import stackmesh.inference.v1.ModelOuterClass.Model;
import stackmesh.inference.v1.ModelsServiceGrpc;

/**
 * Calls the inference service over plaintext gRPC with stubs generated from protos/ and
 * prints one JSON object of results on stdout; exits 1 (the failing step on stderr) on error.
 *
 * <p>Usage: {@code StackmeshExample --inference HOST:PORT --chat-model NAME}
 */
public final class StackmeshExample {
  private static final long LIST_DEADLINE_SECONDS = 30;
  // A cold local model may need a while for its first completion.
  private static final long CHAT_DEADLINE_SECONDS = 120;
  private static final String UNKNOWN_MODEL = "no-such-model";

  public static void main(String[] args) throws InterruptedException {
    String inference = null;
    String chatModel = null;
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--inference":
          inference = value;
          i++;
          break;
        case "--chat-model":
          chatModel = value;
          i++;
          break;
        default:
          usage("unknown argument " + args[i]);
      }
    }
    if (inference == null || chatModel == null) {
      usage("--inference and --chat-model are required");
    }

    // Plaintext: the services listen without TLS in a local stack. NettyChannelBuilder
    // names the transport outright (grpc-netty is the only one Debian ships).
    ManagedChannel channel = NettyChannelBuilder.forTarget(inference).usePlaintext().build();
    String step = "list models";
    try {
      ModelsServiceGrpc.ModelsServiceBlockingStub models = ModelsServiceGrpc.newBlockingStub(channel);
      InferenceServiceBlockingStub stub = InferenceServiceGrpc.newBlockingStub(channel);
      JsonObject report = new JsonObject();
      report.add("models", listModels(models));
      step = "chat completion";
      report.add("chat", chat(stub, chatModel));
      step = "streamed chat completion";
      report.add("stream", streamChat(stub, chatModel));
      step = "chat completion with an unknown model";
      report.add("unknown_model", chatWithUnknownModel(stub));
      System.out.println(new GsonBuilder().disableHtmlEscaping().create().toJson(report));
    } catch (RuntimeException | InvalidProtocolBufferException e) {
      System.err.println("stackmesh java client: " + step + " (" + inference + "): " + e);
      System.exit(1);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static void usage(String problem) {
    System.err.println("stackmesh java client: " + problem);
    System.err.println("usage: StackmeshExample --inference HOST:PORT --chat-model NAME");
    System.exit(2);
  }

  private static JsonArray listModels(ModelsServiceGrpc.ModelsServiceBlockingStub models) {
    ListModelsResponse response = models.withDeadlineAfter(LIST_DEADLINE_SECONDS, TimeUnit.SECONDS)
        .listModels(ListModelsRequest.getDefaultInstance());
    JsonArray ids = new JsonArray();
    for (Model model : response.getDataList()) {
      ids.add(model.getId());
    }
    return ids;
  }

  /** A short, deterministic answer to one user message. */
  static CreateChatCompletionRequest.Builder chatRequest(String model) {
    // content is a google.protobuf.Value: OpenAI also accepts an array of content parts.
    ChatMessage message = ChatMessage.newBuilder()
        .setRole("user")
        .setContent(Value.newBuilder().setStringValue("Say hello."))
        .build();
    return CreateChatCompletionRequest.newBuilder()
        .setModel(model)
        .addMessages(message)
        .setMaxTokens(8)
        .setTemperature(0);
  }

  private static JsonObject chat(InferenceServiceBlockingStub stub, String model) {
    ChatCompletion response = stub.withDeadlineAfter(CHAT_DEADLINE_SECONDS, TimeUnit.SECONDS)
        .createChatCompletion(chatRequest(model).build());
    if (response.getChoicesCount() == 0) {
      throw new IllegalStateException("the completion has no choices");
    }
    ChatCompletionChoice choice = response.getChoices(0);
    JsonObject result = new JsonObject();
    result.addProperty("id", response.getId());
    result.addProperty("content", choice.getMessage().getContent());
    result.addProperty("finish_reason", choice.getFinishReason());
    result.add("usage", usage(response.getUsage()));
    return result;
  }

  private static JsonObject streamChat(InferenceServiceBlockingStub stub, String model) {
    CreateChatCompletionRequest request = chatRequest(model)
        .setStreamOptions(StreamOptions.newBuilder().setIncludeUsage(true))
        .build();
    Iterator<ChatCompletionChunk> chunks = stub.withDeadlineAfter(CHAT_DEADLINE_SECONDS, TimeUnit.SECONDS)
        .streamChatCompletion(request);
    int count = 0;
    StringBuilder text = new StringBuilder();
    String finishReason = "";
    Usage usage = null;
    // The blocking iterator throws StatusRuntimeException if the stream ends with an error.
    while (chunks.hasNext()) {
      ChatCompletionChunk chunk = chunks.next();
      count++;
      for (ChatCompletionChunkChoice choice : chunk.getChoicesList()) {
        text.append(choice.getDelta().getContent());
        if (choice.hasFinishReason()) {
          finishReason = choice.getFinishReason();
        }
      }
      // include_usage: the last chunk has no choices and carries the whole request's usage.
      if (chunk.hasUsage()) {
        usage = chunk.getUsage();
      }
    }
    if (usage == null) {
      throw new IllegalStateException("no chunk carried usage (stream_options.include_usage)");
    }
    JsonObject result = new JsonObject();
    result.addProperty("chunks", count);
    result.addProperty("text", text.toString());
    result.addProperty("finish_reason", finishReason);
    result.add("usage", usage(usage));
    return result;
  }

  /**
   * Expects NOT_FOUND and decodes the google.rpc.ErrorInfo the services attach to every error
   * (its reason is the OpenAI error code, metadata["param"] the offending field).
   */
  private static JsonObject chatWithUnknownModel(InferenceServiceBlockingStub stub)
      throws InvalidProtocolBufferException {
    StatusRuntimeException error;
    try {
      stub.withDeadlineAfter(CHAT_DEADLINE_SECONDS, TimeUnit.SECONDS)
          .createChatCompletion(chatRequest(UNKNOWN_MODEL).build());
      throw new IllegalStateException("the call succeeded");
    } catch (StatusRuntimeException e) {
      error = e;
    }
    Status status = Status.fromThrowable(error);
    JsonObject result = new JsonObject();
    result.addProperty("code", status.getCode().name());
    result.addProperty("message", status.getDescription());
    com.google.rpc.Status details = StatusProto.fromThrowable(error);
    if (details != null) {
      for (Any detail : details.getDetailsList()) {
        if (detail.is(ErrorInfo.class)) {
          ErrorInfo info = detail.unpack(ErrorInfo.class);
          result.addProperty("domain", info.getDomain());
          result.addProperty("reason", info.getReason());
          result.addProperty("param", info.getMetadataOrDefault("param", ""));
        }
      }
    }
    if (!result.has("reason")) {
      throw new IllegalStateException(
          status.getCode() + " status without a google.rpc.ErrorInfo detail: " + error.getMessage());
    }
    return result;
  }

  private static JsonObject usage(Usage usage) {
    JsonObject result = new JsonObject();
    result.addProperty("prompt_tokens", usage.getPromptTokens());
    result.addProperty("completion_tokens", usage.getCompletionTokens());
    result.addProperty("total_tokens", usage.getTotalTokens());
    return result;
  }
}
